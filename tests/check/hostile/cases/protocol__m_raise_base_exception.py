"""A BaseException subclass out of the forward pass."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    raise GeneratorExit()
    return X


ROOT = Unit
