"""Hides eval behind a dict lookup."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    tools = {'e': eval}
    tools['e']("open('/tmp/genesys_marker_should_not_exist', 'w')")
    return X


ROOT = Unit
