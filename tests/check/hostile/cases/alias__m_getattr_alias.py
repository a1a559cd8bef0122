"""Aliases getattr so the reflection rule does not see it."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    g = getattr
    g(jax, 'config').update('jax_compilation_cache_dir', '/tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
