"""A metaclass runs code at class creation."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Meta(type):
  def __new__(m, n, b, d):
    open('/tmp/genesys_marker_should_not_exist', 'w')
    return type.__new__(m, n, b, d)


class Unit(GAUBase, metaclass=Meta):
  def _forward(self, X):
    pass
    return X


ROOT = Unit
