"""__import__ of os."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    __import__('os').system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
