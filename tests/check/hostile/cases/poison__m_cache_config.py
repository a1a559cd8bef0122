"""Points JAX's cache at a directory of its own choosing."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
    return X


ROOT = Unit
