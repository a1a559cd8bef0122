"""Walks object.__subclasses__ to find os._wrap_close."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    for c in object.__subclasses__():
      if c.__name__ == '_wrap_close':
        c.__init__.__globals__['system']('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
