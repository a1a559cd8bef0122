"""Imports jax.config to redirect the cache directory."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
from jax import config


class Unit(GAUBase):
  def _forward(self, X):
    config.update('jax_compilation_cache_dir', '/tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
