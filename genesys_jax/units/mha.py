"""Causal multi-head self-attention with rotary position embeddings, optionally over a sliding window."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import DesignError, GAUBase, gau_test, ops, param


def _query_blocks(length: int, n_blocks: int, window: int) -> tuple[tuple[int, int, int], ...]:
  """`(start, end, first_key)` of up to `n_blocks` equal query blocks; each sees keys `first_key .. end - 1`."""
  size = -(-length // n_blocks)
  return tuple((s, min(s + size, length), max(0, s - window + 1) if window > 0 else 0)
               for s in range(0, length, size))


def _rotary_tables(length: int, head_dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
  """cos and sin of `ops.rotary`'s angles as constants `[length, head_dim / 2]` (float32, as ops.rotary computes them)."""
  inv_freq_K2 = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
  angle_LxK2 = (np.arange(length, dtype=np.float32)[:, None] * inv_freq_K2[None, :]).astype(np.float64)
  return np.cos(angle_LxK2).astype(np.float32), np.sin(angle_LxK2).astype(np.float32)


def _rotate(x_BxHxLxK, cos_LxK2, sin_LxK2):
  """`ops.rotary` on a heads-first tensor, with constant tables."""
  x1, x2 = jnp.split(x_BxHxLxK, 2, axis=-1)
  return jnp.concatenate([x1 * cos_LxK2 - x2 * sin_LxK2, x2 * cos_LxK2 + x1 * sin_LxK2], axis=-1)


def _block_mask(start: int, end: int, first_key: int, window: int) -> np.ndarray:
  dist = np.arange(start, end)[:, None] - np.arange(first_key, end)[None, :]
  return (dist >= 0) & ((dist < window) if window > 0 else True)


def _block_forward(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window):
  """The attention output, and per query block what the backward needs: the block's queries, keys, values and
  outputs, its unnormalized probabilities `e` and their row sums `l`."""
  outs, saved = [], []
  for start, end, lo in blocks:
    q, k, v = q_BxHxLxK[:, :, start:end], k_BxHxLxK[:, :, lo:end], v_BxHxLxK[:, :, lo:end]
    s = jnp.einsum("bhlk,bhmk->bhlm", q, k, preferred_element_type=jnp.float32)
    s = jnp.where(_block_mask(start, end, lo, window), s, -jnp.inf)
    e = jnp.exp(s - jnp.max(s, axis=-1, keepdims=True))
    l = jnp.sum(e, axis=-1, keepdims=True)
    e = e.astype(q.dtype)
    out = (jnp.einsum("bhlm,bhmk->bhlk", e, v, preferred_element_type=jnp.float32) / l).astype(q.dtype)
    outs.append(out)
    saved.append((q, k, v, out, e, l))
  return jnp.concatenate(outs, axis=2), saved


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _causal_attention(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window):
  """Softmax attention of each query over its block's keys (masked), with a hand-written backward."""
  return _block_forward(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window)[0]


def _causal_attention_fwd(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window):
  return _block_forward(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window)


def _causal_attention_bwd(blocks, window, saved, dout_BxHxLxK):
  length = dout_BxHxLxK.shape[2]
  dq, dk, dv = [], [], []
  for (start, end, lo), (q, k, v, out, e, l) in zip(blocks, saved):
    g = dout_BxHxLxK[:, :, start:end].astype(jnp.float32) / l
    d = jnp.sum(g * out.astype(jnp.float32), axis=-1, keepdims=True)
    g = g.astype(v.dtype)
    dp = jnp.einsum("bhlk,bhmk->bhlm", g, v, preferred_element_type=jnp.float32)
    ds = (e.astype(jnp.float32) * (dp - d)).astype(q.dtype)
    pad = ((0, 0), (0, 0), (lo, length - end), (0, 0))
    dq.append(jnp.einsum("bhlm,bhmk->bhlk", ds, k, preferred_element_type=jnp.float32))
    dk.append(jnp.pad(jnp.einsum("bhlm,bhlk->bhmk", ds, q, preferred_element_type=jnp.float32), pad))
    dv.append(jnp.pad(jnp.einsum("bhlm,bhlk->bhmk", e, g, preferred_element_type=jnp.float32), pad))
  dtype = dout_BxHxLxK.dtype
  return jnp.concatenate(dq, axis=2).astype(dtype), sum(dk).astype(dtype), sum(dv).astype(dtype)


_causal_attention.defvjp(_causal_attention_fwd, _causal_attention_bwd)


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
    qkv_BxLx3xHxK = jnp.einsum("bld,dthk->blthk", X, self.w_qkv[...].astype(X.dtype))
    q_BxHxLxK, k_BxHxLxK, v_BxHxLxK = (t[:, :, 0].transpose(0, 2, 1, 3) for t in jnp.split(qkv_BxLx3xHxK, 3, axis=2))
    cos_LxK2, sin_LxK2 = _rotary_tables(X.shape[1], self.head_dim, self.rope_base)
    scale = 1 / math.sqrt(self.head_dim)
    q_BxHxLxK = _rotate(q_BxHxLxK, (cos_LxK2 * scale).astype(X.dtype), (sin_LxK2 * scale).astype(X.dtype))
    k_BxHxLxK = _rotate(k_BxHxLxK, cos_LxK2.astype(X.dtype), sin_LxK2.astype(X.dtype))
    blocks = _query_blocks(X.shape[1], 4, self.window)
    out_BxHxLxK = _causal_attention(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, self.window)
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
