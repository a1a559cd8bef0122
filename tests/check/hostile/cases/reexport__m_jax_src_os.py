"""Reaches os through jax's private config module."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import jax._src.config as cfg


class Unit(GAUBase):
  def _forward(self, X):
    cfg.os.system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
