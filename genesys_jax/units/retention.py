"""RetNet multi-scale retention: per-head exponential decay instead of softmax attention."""

import math

import jax
import jax.numpy as jnp

from genesys_jax.gau import DesignError, GAUBase, constant, gau_test, ops, param


def head_log_decays(num_heads: int):
  """log(gamma_h) with gamma_h = 1 - 2^(-5 - h): a different memory length per head."""
  return jnp.log1p(-jnp.exp2(-5.0 - jnp.arange(num_heads, dtype=jnp.float32)))


class MultiScaleRetention(GAUBase):
  """Multi-scale retention with rotary positions, per-head normalization and a swish output gate."""

  def __init__(self, embed_dim, block_loc, *, rngs, head_dim: int = 32):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    if embed_dim % head_dim:
      raise DesignError(f"embed_dim {embed_dim} is not a multiple of head_dim {head_dim}",
                        unit="MultiScaleRetention")
    heads = embed_dim // head_dim
    self.heads, self.head_dim = heads, head_dim
    self.w_qkv = param(rngs, (embed_dim, 3, heads, head_dim), ("embed", None, "heads", "kv"))
    self.w_gate = param(rngs, (embed_dim, embed_dim), ("embed", "mlp"))
    self.head_norm = param(rngs, (heads, head_dim), ("heads", "kv"), constant(1.0))
    self.w_out = param(rngs, (embed_dim, embed_dim), ("mlp", "embed"), residual=True)

  def _forward(self, X):
    bsz, length, _ = X.shape
    qkv = jnp.einsum("bld,dthk->blthk", X, self.w_qkv[...])
    q, k, v = ops.rotary(qkv[:, :, 0]), ops.rotary(qkv[:, :, 1]), qkv[:, :, 2]
    o_BxLxHxK = ops.decayed_linear_attention(q, k / math.sqrt(self.head_dim), v, head_log_decays(self.heads))
    o_BxLxHxK = ops.rms_norm(o_BxLxHxK, self.head_norm[...])
    o = o_BxLxHxK.reshape(bsz, length, -1) * jax.nn.silu(X @ self.w_gate[...])
    return o @ self.w_out[...]


@gau_test
def test_unit_decays_are_in_unit_interval(build):
  gammas = jnp.exp(head_log_decays(8))
  assert bool(jnp.all((gammas > 0.9) & (gammas < 1.0))), gammas
  unit = build(embed_dim=32, head_dim=8)
  Y, _ = unit(jax.random.normal(jax.random.key(0), (1, 5, 32)))
  assert bool(jnp.all(jnp.isfinite(Y)))
