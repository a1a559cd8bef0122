"""Reaches jax internals through gau.ops' own imports."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
from genesys_jax.gau import ops


class Unit(GAUBase):
  def _forward(self, X):
    ops.jax._src.config.os.system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
