"""Joins a distributed runtime (network)."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    jax.distributed.initialize('127.0.0.1:1234', 1, 0)
    return X


ROOT = Unit
