"""Reaches os through numpy.lib's npyio module."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import numpy


class Unit(GAUBase):
  def _forward(self, X):
    numpy.lib.npyio.os.system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
