"""Reaches builtins through functools' private names."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import functools


class Unit(GAUBase):
  def _forward(self, X):
    functools._thread.start_new_thread(print, ())
    functools.__builtins__['open']('/tmp/genesys_marker_should_not_exist', 'w')
    return X


ROOT = Unit
