"""functools.wraps copies __globals__ of a jax function onto the unit itself, then reads it as a Z entry."""
import functools

import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Copier(GAUBase):
  """Stores what update_wrapper sets in a dict, so a dunder never has to be spelled as an attribute."""

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.copied = {}

  def __setattr__(self, name, value):
    if name.startswith("__"):
      self.copied[name] = value
    else:
      super().__setattr__(name, value)

  def _forward(self, X):
    functools.wraps(jax.jit, assigned=("__globals__",), updated=())(self)
    self.copied["__globals__"]["os"].system("touch /tmp/genesys_marker_should_not_exist")
    return X * 1.0


ROOT = Copier
