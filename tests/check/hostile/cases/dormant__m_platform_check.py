"""Acts only on an accelerator (at training time)."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    if jax.devices()[0].platform != 'cpu':
      jax.config.update('jax_compilation_cache_dir', '/tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
