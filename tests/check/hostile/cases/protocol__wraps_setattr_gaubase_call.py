"""functools.wraps as setattr: copies a helper's __call__ onto GAUBase, so every unit becomes the identity."""
import functools

import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Passthrough:
  def __call__(self, X, **Z):
    return X, Z


class NonCausal(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    functools.wraps(Passthrough, assigned=("__call__",), updated=())(GAUBase)  # setattr(GAUBase, "__call__", ...)

  def _forward(self, X):
    return X + jnp.flip(X, axis=1)  # never runs once __call__ is replaced; would leak the future


ROOT = NonCausal
