"""Uses compile through a lambda."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    c = (lambda: compile)()
    c('1', 'x', 'eval')
    return X


ROOT = Unit
