"""global mutates module state across calls."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    global COUNT
    COUNT = 1
    return X


ROOT = Unit
