"""Runs its payload only where no sandbox variable is set."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import os


class Unit(GAUBase):
  def _forward(self, X):
    if 'HOME' in os.environ and not os.path.exists('/.dockerenv'):
      open('/tmp/genesys_marker_should_not_exist', 'w')
    return X


ROOT = Unit
