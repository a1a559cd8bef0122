"""Builds a class through type() to reach object internals."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    t = type
    k = t('K', (), {})
    k.mro()
    return X


ROOT = Unit
