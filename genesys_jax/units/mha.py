"""Causal multi-head self-attention with rotary position embeddings."""

import math

import jax
import jax.numpy as jnp

from genesys_jax.gau import DesignError, GAUBase, gau_test, ops, param


class MHA(GAUBase):
  """Softmax attention over earlier positions; heads of `head_dim` features, rotary positions."""

  def __init__(self, embed_dim, block_loc, *, rngs, head_dim: int = 32, rope_base: float = 10000.0):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    if embed_dim % head_dim:
      raise DesignError(f"embed_dim {embed_dim} is not a multiple of head_dim {head_dim}", unit="MHA")
    self.num_heads, self.head_dim, self.rope_base = embed_dim // head_dim, head_dim, rope_base
    self.w_qkv = param(rngs, (embed_dim, 3, self.num_heads, head_dim), ("embed", None, "heads", "kv"))
    self.w_out = param(rngs, (self.num_heads, head_dim, embed_dim), ("heads", "kv", "embed"), residual=True)

  def _forward(self, X):
    length = X.shape[1]
    qkv_BxLx3xHxK = jnp.einsum("bld,dthk->blthk", X, self.w_qkv[...].astype(X.dtype))
    q, k, v = qkv_BxLx3xHxK[:, :, 0], qkv_BxLx3xHxK[:, :, 1], qkv_BxLx3xHxK[:, :, 2]
    q, k = ops.rotary(q, self.rope_base), ops.rotary(k, self.rope_base)
    scores_BxHxLxL = jnp.einsum("blhk,bmhk->bhlm", q, k).astype(jnp.float32) / math.sqrt(self.head_dim)
    causal_LxL = jnp.tril(jnp.ones((length, length), dtype=bool))
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
