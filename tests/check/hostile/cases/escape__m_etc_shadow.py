"""Reads /etc/shadow."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    print(open('/etc/shadow').read())
    return X


ROOT = Unit
