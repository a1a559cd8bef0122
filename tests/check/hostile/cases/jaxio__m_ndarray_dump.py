"""ndarray.dump pickles to a file."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import numpy as np


class Unit(GAUBase):
  def _forward(self, X):
    np.zeros(1).dump('/tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
