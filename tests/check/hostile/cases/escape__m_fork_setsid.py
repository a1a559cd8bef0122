"""Forks a detached process that outlives the check."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import os


class Unit(GAUBase):
  def _forward(self, X):
    if os.fork() == 0:
      os.setsid()
      os.execvp('sleep', ['sleep', '600'])
    return X


ROOT = Unit
