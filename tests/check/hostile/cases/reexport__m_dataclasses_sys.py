"""Reaches sys through dataclasses."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
from dataclasses import sys as s


class Unit(GAUBase):
  def _forward(self, X):
    s.modules['os'].system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
