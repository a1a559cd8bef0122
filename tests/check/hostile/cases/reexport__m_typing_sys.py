"""Reaches sys through typing and then os."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import typing


class Unit(GAUBase):
  def _forward(self, X):
    typing.sys.modules['os'].system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
