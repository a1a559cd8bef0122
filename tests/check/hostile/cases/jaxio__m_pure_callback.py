"""pure_callback runs Python on the host."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    jax.pure_callback(print, None)
    return X


ROOT = Unit
