"""jnp.save writes a file."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    jnp.save('/tmp/genesys_marker_should_not_exist', X)
    return X


ROOT = Unit
