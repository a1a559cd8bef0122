"""Causal multi-head self-attention with rotary position embeddings, optionally over a sliding window."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import DesignError, GAUBase, gau_test, ops, param

N_QUERY_BLOCKS = 4
"""Queries are split into this many blocks; each attends only to keys up to its own end."""


def _query_blocks(length: int, window: int) -> tuple[tuple[int, int, int], ...]:
  """`(start, end, first_key)` per query block: its queries `start .. end - 1` see keys `first_key .. end - 1`."""
  size = -(-length // N_QUERY_BLOCKS)
  return tuple((s, min(s + size, length), max(0, s - window + 1) if window > 0 else 0)
               for s in range(0, length, size))


def _block_mask(start: int, end: int, first_key: int, window: int) -> jax.Array:
  """Which of its keys each query of a block may see, `[end - start, end - first_key]`."""
  dist_QxM = start - first_key + jnp.arange(end - start)[:, None] - jnp.arange(end - first_key)[None, :]
  return (dist_QxM >= 0) & ((dist_QxM < window) if window > 0 else True)


def _rotary(x_BxHxLxK: jax.Array, base: float) -> jax.Array:
  """`ops.rotary` on heads-first input, its cos/sin tables (the same float32 values) made constants, not step work."""
  length, k = x_BxHxLxK.shape[2], x_BxHxLxK.shape[3]
  inv_freq_K2 = 1.0 / (base ** (np.arange(0, k, 2, dtype=np.float32) / k))
  angle_LxK2 = (np.arange(length, dtype=np.float32)[:, None] * inv_freq_K2[None, :]).astype(np.float64)
  cos, sin = np.cos(angle_LxK2).astype(x_BxHxLxK.dtype), np.sin(angle_LxK2).astype(x_BxHxLxK.dtype)
  x1, x2 = jnp.split(x_BxHxLxK, 2, axis=-1)
  return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def _attention_blocks(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window):
  """Per query block: its output, its unnormalized probabilities `e` and their row sums `l` (float32)."""
  outs, exps, sums = [], [], []
  for start, end, lo in blocks:
    s = jnp.einsum("bhlk,bhmk->bhlm", q_BxHxLxK[:, :, start:end], k_BxHxLxK[:, :, lo:end],
                   preferred_element_type=jnp.float32)
    s = jnp.where(_block_mask(start, end, lo, window), s, -jnp.inf)
    e = jnp.exp(s - jnp.max(s, axis=-1, keepdims=True))
    l = jnp.sum(e, axis=-1, keepdims=True)
    e = e.astype(q_BxHxLxK.dtype)
    out = jnp.einsum("bhlm,bhmk->bhlk", e, v_BxHxLxK[:, :, lo:end], preferred_element_type=jnp.float32) / l
    outs.append(out.astype(q_BxHxLxK.dtype))
    exps.append(e)
    sums.append(l)
  return outs, exps, sums


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _causal_attention(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window):
  """Softmax attention of each query block over its keys. The backward is written out: `rowsum(dO * O)` replaces
  `rowsum(dP * P)` (no extra pass over the probabilities) and `P = e / l` is never formed."""
  return jnp.concatenate(_attention_blocks(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window)[0], axis=2)


def _causal_attention_fwd(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window):
  outs, exps, sums = _attention_blocks(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, blocks, window)
  out_BxHxLxK = jnp.concatenate(outs, axis=2)
  return out_BxHxLxK, (q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, out_BxHxLxK, exps, sums)


def _causal_attention_bwd(blocks, window, residuals, dout_BxHxLxK):
  q, k, v, out, exps, sums = residuals
  dq, dk, dv = [], jnp.zeros(k.shape, jnp.float32), jnp.zeros(v.shape, jnp.float32)
  for (start, end, lo), e, l in zip(blocks, exps, sums):
    g = dout_BxHxLxK[:, :, start:end].astype(jnp.float32) / l
    d = jnp.sum(g * out[:, :, start:end].astype(jnp.float32), axis=-1, keepdims=True)
    g = g.astype(v.dtype)
    dp = jnp.einsum("bhlk,bhmk->bhlm", g, v[:, :, lo:end], preferred_element_type=jnp.float32)
    ds = (e.astype(jnp.float32) * (dp - d)).astype(q.dtype)
    dq.append(jnp.einsum("bhlm,bhmk->bhlk", ds, k[:, :, lo:end], preferred_element_type=jnp.float32))
    dk = dk.at[:, :, lo:end].add(jnp.einsum("bhlm,bhlk->bhmk", ds, q[:, :, start:end],
                                            preferred_element_type=jnp.float32))
    dv = dv.at[:, :, lo:end].add(jnp.einsum("bhlm,bhlk->bhmk", e, g, preferred_element_type=jnp.float32))
  return jnp.concatenate(dq, axis=2).astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype)


_causal_attention.defvjp(_causal_attention_fwd, _causal_attention_bwd)


class MHA(GAUBase):
  """Softmax attention over earlier positions; heads of `head_dim` features, rotary positions.

  `window > 0` restricts each position to itself and the `window - 1` positions before it.
  `blocked=False` computes the same attention the plain way, one masked [L, L] score matrix: the
  vanilla Transformer the checker measures candidates against.
  """

  def __init__(self, embed_dim, block_loc, *, rngs, head_dim: int = 32, rope_base: float = 10000.0,
               window: int = 0, blocked: bool = True):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    if embed_dim % head_dim:
      raise DesignError(f"embed_dim {embed_dim} is not a multiple of head_dim {head_dim}", unit="MHA")
    self.num_heads, self.head_dim, self.rope_base, self.window = embed_dim // head_dim, head_dim, rope_base, window
    self.blocked = blocked
    self.w_qkv = param(rngs, (embed_dim, 3, self.num_heads, head_dim), ("embed", None, "heads", "kv"))
    self.w_out = param(rngs, (self.num_heads, head_dim, embed_dim), ("heads", "kv", "embed"), residual=True)

  def _forward(self, X):
    if not self.blocked:
      return self._plain_forward(X)
    # Heads-first, queries in static blocks that skip the keys after their end, a hand-written backward:
    # the same attention as a full masked [L, L] score matrix, in less time on CPU (benchmarks/train_throughput.py).
    qkv_BxLx3xHxK = jnp.einsum("bld,dthk->blthk", X, self.w_qkv[...].astype(X.dtype))
    q_BxHxLxK, k_BxHxLxK, v_BxHxLxK = (t[:, :, 0].transpose(0, 2, 1, 3) for t in jnp.split(qkv_BxLx3xHxK, 3, axis=2))
    q_BxHxLxK = _rotary(q_BxHxLxK, self.rope_base) * (1 / math.sqrt(self.head_dim))
    k_BxHxLxK = _rotary(k_BxHxLxK, self.rope_base)
    out_BxHxLxK = _causal_attention(q_BxHxLxK, k_BxHxLxK, v_BxHxLxK, _query_blocks(X.shape[1], self.window),
                                    self.window)
    return jnp.einsum("bhlk,hkd->bld", out_BxHxLxK, self.w_out[...].astype(X.dtype))

  def _plain_forward(self, X):
    qkv_BxLx3xHxK = jnp.einsum("bld,dthk->blthk", X, self.w_qkv[...].astype(X.dtype))
    q, k, v = qkv_BxLx3xHxK[:, :, 0], qkv_BxLx3xHxK[:, :, 1], qkv_BxLx3xHxK[:, :, 2]
    q, k = ops.rotary(q, self.rope_base), ops.rotary(k, self.rope_base)
    scores_BxHxLxL = jnp.einsum("blhk,bmhk->bhlm", q, k).astype(jnp.float32) / math.sqrt(self.head_dim)
    dist_LxL = jnp.arange(X.shape[1])[:, None] - jnp.arange(X.shape[1])[None, :]
    causal_LxL = (dist_LxL >= 0) & ((dist_LxL < self.window) if self.window > 0 else True)
    scores_BxHxLxL = jnp.where(causal_LxL, scores_BxHxLxL, jnp.finfo(jnp.float32).min)
    probs_BxHxLxL = jax.nn.softmax(scores_BxHxLxL, axis=-1).astype(X.dtype)
    out_BxLxHxK = jnp.einsum("bhlm,bmhk->blhk", probs_BxHxLxL, v)
    return jnp.einsum("blhk,hkd->bld", out_BxLxHxK, self.w_out[...].astype(X.dtype))


@gau_test
def test_unit_blocked_equals_plain(build):
  X = jax.random.normal(jax.random.key(1), (2, 11, 32))
  for window in (0, 4):
    Y, _ = build(embed_dim=32, head_dim=16, window=window)(X)
    Y_plain, _ = build(embed_dim=32, head_dim=16, window=window, blocked=False)(X)
    assert jnp.allclose(Y, Y_plain, atol=1e-5)


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
