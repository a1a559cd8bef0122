"""hasattr probes for a module attribute."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    if hasattr(jnp, 'os'):
      pass
    return X


ROOT = Unit
