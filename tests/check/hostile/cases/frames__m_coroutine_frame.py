"""A coroutine's frame."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    async def c():
      return 1
    print(c().cr_frame)
    return X


ROOT = Unit
