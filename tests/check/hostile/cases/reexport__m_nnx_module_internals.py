"""Reaches flax internals through nnx submodules."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
from flax import nnx


class Unit(GAUBase):
  def _forward(self, X):
    nnx.graph.jax._src.util.os.system('touch /tmp/genesys_marker_should_not_exist')
    return X


ROOT = Unit
