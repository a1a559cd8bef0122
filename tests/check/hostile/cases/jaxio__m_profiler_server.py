"""Starts JAX's profiler server (a listening port)."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    jax.profiler.start_server(9012)
    return X


ROOT = Unit
