"""Gets ndarray.tofile without naming the attribute (a match keyword pattern) and writes the marker file."""
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import GAUBase


class PatternToFile(GAUBase):
  def _forward(self, X):
    stats = np.arange(4, dtype=np.float32)
    match stats:
      case np.ndarray(tofile=write):  # getattr(stats, "tofile") done by the match machinery
        write("/tmp/genesys_marker_should_not_exist")
    return X * 1.0


ROOT = PatternToFile
