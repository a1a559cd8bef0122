"""io_callback from jax.experimental."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
from jax.experimental import io_callback


class Unit(GAUBase):
  def _forward(self, X):
    io_callback(print, None)
    return X


ROOT = Unit
