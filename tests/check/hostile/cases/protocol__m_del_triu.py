"""Deletes jnp.triu from the module."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    del jnp.triu
    return X


ROOT = Unit
