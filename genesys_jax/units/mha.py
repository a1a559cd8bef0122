"""Causal multi-head self-attention with rotary position embeddings, optionally over a sliding window."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import DesignError, GAUBase, gau_test, ops, param


def _query_blocks(length: int, n_blocks: int) -> list[tuple[int, int]]:
  """`[start, end)` of up to `n_blocks` equal query blocks covering `length` positions."""
  size = -(-length // n_blocks)
  return [(s, min(s + size, length)) for s in range(0, length, size)]


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
    qkv_3xBxHxLxK = jnp.einsum("bld,dthk->tbhlk", X, self.w_qkv[...].astype(X.dtype))
    q_BxHxLxK, k_BxHxLxK, v_BxHxLxK = qkv_3xBxHxLxK[0], qkv_3xBxHxLxK[1], qkv_3xBxHxLxK[2]
    rot = lambda x: ops.rotary(x.transpose(0, 2, 1, 3), self.rope_base).transpose(0, 2, 1, 3)
    q_BxHxLxK, k_BxHxLxK = rot(q_BxHxLxK) / math.sqrt(self.head_dim), rot(k_BxHxLxK)
    outs = []
    for start, end in _query_blocks(length, 4):
      lo = max(0, start - self.window + 1) if self.window > 0 else 0
      dist = np.arange(start, end)[:, None] - np.arange(lo, end)[None, :]
      mask = (dist >= 0) & ((dist < self.window) if self.window > 0 else True)
      s = jnp.einsum("bhlk,bhmk->bhlm", q_BxHxLxK[:, :, start:end], k_BxHxLxK[:, :, lo:end]).astype(jnp.float32)
      p = jax.nn.softmax(jnp.where(mask, s, jnp.finfo(jnp.float32).min), axis=-1).astype(X.dtype)
      outs.append(jnp.einsum("bhlm,bhmk->bhlk", p, v_BxHxLxK[:, :, lo:end]))
    out_BxHxLxK = jnp.concatenate(outs, axis=2)
    return jnp.einsum("bhlk,hkd->bld", out_BxHxLxK, self.w_out[...].astype(X.dtype))


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
