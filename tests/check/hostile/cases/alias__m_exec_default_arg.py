"""Smuggles exec through a default argument."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    def run(f=exec):
      f("open('/tmp/genesys_marker_should_not_exist', 'w')")
    run()
    return X


ROOT = Unit
