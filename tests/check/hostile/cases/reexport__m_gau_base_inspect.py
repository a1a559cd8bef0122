"""Reaches inspect through the project's own base module."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
from genesys_jax.gau import base


class Unit(GAUBase):
  def _forward(self, X):
    base.inspect.os.system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
