"""numpy's DataSource fetches and writes files."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import numpy as np


class Unit(GAUBase):
  def _forward(self, X):
    np.DataSource('/tmp').open('/tmp/genesys_marker_should_not_exist', 'w')
    return X


ROOT = Unit
