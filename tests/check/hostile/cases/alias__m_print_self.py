"""Gets builtins through a builtin's __self__."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    b = print.__self__
    b.open('/tmp/genesys_marker_should_not_exist', 'w')
    return X


ROOT = Unit
