"""Writes a profiler trace to the marker path."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    jax.profiler.start_trace('/tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
