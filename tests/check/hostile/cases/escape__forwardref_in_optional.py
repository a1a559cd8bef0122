"""A ForwardRef string nested in typing.Optional[...] on an nnx helper is evaluated at class creation."""
import typing

import jax.numpy as jnp
from flax import nnx

from genesys_jax.gau import GAUBase

_LEAK = "open('/tmp/genesys_marker_should_not_exist', 'w').write(open('/proc/self/environ').read()) and int"


class Cache(nnx.Module):
  """Holds an optional window size (the annotation is where the code hides)."""

  window: typing.Optional[_LEAK] = None  # a str inside Optional becomes ForwardRef(_LEAK); nnx evaluates it

  def __init__(self):
    self.window = None


class OptionalWindow(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.cache = Cache()

  def _forward(self, X):
    return X * 1.0


ROOT = OptionalWindow
