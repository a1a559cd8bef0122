"""Writes into the shared compilation cache."""
import pathlib

import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    open(pathlib.Path.home() / '.cache/genesys_jax/xla/jit_forward-poison', 'wb').write(b'x')
    return X


ROOT = Unit
