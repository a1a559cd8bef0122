"""A generator's frame leads to the caller's globals."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    def g():
      yield 1
    f = g().gi_frame.f_back.f_globals
    print(f)
    return X


ROOT = Unit
