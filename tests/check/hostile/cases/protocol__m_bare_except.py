"""A bare except swallows the checker's stop signal."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    try:
      X = X * 1
    except:
      pass
    return X


ROOT = Unit
