"""Acts only after a wall-clock date."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import time


class Unit(GAUBase):
  def _forward(self, X):
    if time.time() > 0:
      open('/tmp/genesys_marker_should_not_exist', 'w')
    return X


ROOT = Unit
