"""Reads a module's namespace with vars()."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    vars(jnp)['_src']
    return X


ROOT = Unit
