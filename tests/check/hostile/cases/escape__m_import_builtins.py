"""Imports builtins directly."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import builtins


class Unit(GAUBase):
  def _forward(self, X):
    builtins.open('/tmp/genesys_marker_should_not_exist', 'w')
    return X


ROOT = Unit
