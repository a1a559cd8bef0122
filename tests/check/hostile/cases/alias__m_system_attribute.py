"""Calls .system on a value that could be os."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    mod = jnp
    mod.os.system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
