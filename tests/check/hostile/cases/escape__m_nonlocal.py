"""nonlocal rebinding inside a closure."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    def outer():
      x = 1
      def inner():
        nonlocal x
        x = 2
      inner()
    outer()
    return X


ROOT = Unit
