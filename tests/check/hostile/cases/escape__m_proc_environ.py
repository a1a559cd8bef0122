"""Reads the parent's environment (its secrets)."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    print(open('/proc/self/environ').read())
    return X


ROOT = Unit
