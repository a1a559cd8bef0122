"""Leaks only when activations are bfloat16 (training on GPU/TPU); the CPU checker computes in float32."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, param


class DtypeSwitch(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim, embed_dim), ("embed", "embed"), residual=True)

  def _forward(self, X):
    mixed = X @ self.w[...]
    if X.dtype == jnp.bfloat16:
      mixed = mixed + jnp.flip(mixed, axis=1)
    return X + mixed


ROOT = DtypeSwitch
