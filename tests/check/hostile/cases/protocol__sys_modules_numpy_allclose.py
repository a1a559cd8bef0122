"""Assigns numpy.allclose through sys.modules (an attribute store rooted at a subscript) to fake causality."""
import dataclasses

import jax.numpy as jnp

from genesys_jax.gau import GAUBase


def _always(*args, **kwargs):
  return True


class FakeAllclose(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    match dataclasses.dataclass:
      case object(__globals__={"sys": host_sys}):
        host_sys.modules["numpy"].allclose = _always  # probes.causality_leaks compares with np.allclose

  def _forward(self, X):
    return X + jnp.flip(X, axis=1)


ROOT = FakeAllclose
