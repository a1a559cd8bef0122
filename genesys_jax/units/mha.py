"""Causal multi-head self-attention with rotary position embeddings, optionally over a sliding window."""

import math

import jax
import jax.numpy as jnp

from genesys_jax.gau import DesignError, GAUBase, gau_test, ops, param


class MHA(GAUBase):
  """Softmax attention over earlier positions; heads of `head_dim` features, rotary positions.

  `window > 0` restricts each position to itself and the `window - 1` positions before it.
  """

  def __init__(self, embed_dim, block_loc, *, rngs, head_dim: int = 32, rope_base: float = 10000.0,
               window: int = 0):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    if embed_dim % head_dim:
      raise DesignError(f"embed_dim {embed_dim} is not a multiple of head_dim {head_dim}", unit="MHA")
    self.num_heads, self.head_dim, self.rope_base, self.window = embed_dim // head_dim, head_dim, rope_base, window
    self.w_qkv = param(rngs, (embed_dim, 3, self.num_heads, head_dim), ("embed", None, "heads", "kv"))
    self.w_out = param(rngs, (self.num_heads, head_dim, embed_dim), ("heads", "kv", "embed"), residual=True)

  def _forward(self, X):
    length = X.shape[1]
    qkv_BxLx3xHxK = jnp.einsum("bld,dthk->blthk", X, self.w_qkv[...].astype(X.dtype))
    q, k, v = qkv_BxLx3xHxK[:, :, 0], qkv_BxLx3xHxK[:, :, 1], qkv_BxLx3xHxK[:, :, 2]
    q, k = ops.rotary(q, self.rope_base), ops.rotary(k, self.rope_base)
    scores_BxHxLxL = jnp.einsum("blhk,bmhk->bhlm", q, k).astype(jnp.float32) / math.sqrt(self.head_dim)
    pos = jnp.arange(length)
    dist_LxL = pos[:, None] - pos[None, :]
    causal_LxL = (dist_LxL >= 0) & ((dist_LxL < self.window) if self.window > 0 else True)
    scores_BxHxLxL = jnp.where(causal_LxL, scores_BxHxLxL, jnp.finfo(jnp.float32).min)
    probs = jax.nn.softmax(scores_BxHxLxL, axis=-1).astype(X.dtype)
    out_BxLxHxK = jnp.einsum("bhlm,bmhk->blhk", probs, v)
    return jnp.einsum("blhk,hkd->bld", out_BxLxHxK, self.w_out[...].astype(X.dtype))


@gau_test
def test_unit_first_position_attends_to_itself(build):
  unit = build(embed_dim=32, head_dim=16)
  X = jax.random.normal(jax.random.key(0), (1, 4, 32))
  Y_full, _ = unit(X)
  Y_first, _ = unit(X[:, :1])
  assert jnp.allclose(Y_full[:, :1], Y_first, atol=1e-5)


@gau_test
def test_unit_window_limits_the_past(build):
  unit = build(embed_dim=32, head_dim=16, window=3)
  X = jax.random.normal(jax.random.key(0), (1, 8, 32))
  Y, _ = unit(X)
  Y2, _ = unit(X.at[:, 0].set(4.0))
  assert not jnp.allclose(Y[:, 2], Y2[:, 2]) and jnp.allclose(Y[:, 3:], Y2[:, 3:], atol=1e-6)
