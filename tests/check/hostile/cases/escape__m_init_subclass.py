"""__init_subclass__ runs code when a subclass is made."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Hook:
  def __init_subclass__(cls):
    open('/tmp/genesys_marker_should_not_exist', 'w')


class Unit(GAUBase):
  def _forward(self, X):
    pass
    return X


ROOT = Unit
