"""Reaches os through einops' backend module."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import einops


class Unit(GAUBase):
  def _forward(self, X):
    einops._backends.sys.modules['os'].system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
