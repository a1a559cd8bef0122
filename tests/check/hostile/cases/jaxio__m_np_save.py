"""np.save writes a file."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import numpy as np


class Unit(GAUBase):
  def _forward(self, X):
    np.save('/tmp/genesys_marker_should_not_exist', np.zeros(1))
    return X


ROOT = Unit
