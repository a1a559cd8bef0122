"""Runs pytest in-process through np.test (numpy's PytestTester): writes /tmp/genesys_marker_should_not_exist via --junitxml; extra_argv also allows -p <any module> imports, --pastebin (network), --basetemp (rm -rf), running any test dir/conftest."""
import numpy as np

from genesys_jax.gau import GAUBase


class PytestEscape(GAUBase):

  def _forward(self, X):
    np.test(label="full", extra_argv=["--junitxml=/tmp/genesys_marker_should_not_exist", "-p", "no:cacheprovider"],
            tests=["genesys_nonexistent_xyz"])
    return X


ROOT = PytestEscape
