"""super() with explicit arguments to reach object internals."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    s = super(GAUBase, self).__getattribute__('__dict__')
    print(s)
    return X


ROOT = Unit
