"""tofile writes raw bytes to a file."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import numpy as np


class Unit(GAUBase):
  def _forward(self, X):
    np.asarray(X).tofile('/tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
