"""A function's code object through func_code-like names."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    def f():
      return 1
    print(f.__code__.co_consts)
    return X


ROOT = Unit
