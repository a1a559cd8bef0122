"""Causal linear attention: softmax replaced by a positive feature map, so the state is a running sum."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import DesignError, GAUBase, gau_test, ops, param


class LinearAttention(GAUBase):
  """`o_t = phi(q_t) S_t / (phi(q_t) z_t)`, `S_t = sum_{s<=t} phi(k_s)^T v_s`, `phi = elu + 1`."""

  def __init__(self, embed_dim, block_loc, *, rngs, head_dim: int = 32, eps: float = 1e-6):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    if embed_dim % head_dim:
      raise DesignError(f"embed_dim {embed_dim} is not a multiple of head_dim {head_dim}", unit="LinearAttention")
    self.heads, self.head_dim, self.eps = embed_dim // head_dim, head_dim, eps
    self.w_qkv = param(rngs, (embed_dim, 3, self.heads, head_dim), ("embed", None, "heads", "kv"))
    self.w_out = param(rngs, (self.heads, head_dim, embed_dim), ("heads", "kv", "embed"), residual=True)

  def _forward(self, X):
    qkv = jnp.einsum("bld,dthk->blthk", X, self.w_qkv[...])
    q, k, v = jax.nn.elu(qkv[:, :, 0]) + 1.0, jax.nn.elu(qkv[:, :, 1]) + 1.0, qkv[:, :, 2]
    no_decay = jnp.zeros((self.heads,), jnp.float32)
    num = ops.decayed_linear_attention(q, k, v, no_decay)
    den = ops.decayed_linear_attention(q, k, jnp.ones_like(v[..., :1]), no_decay)
    return jnp.einsum("blhk,hkd->bld", num / (den + self.eps), self.w_out[...])


@gau_test
def test_unit_first_output_is_first_value_projection(build):
  unit = build(embed_dim=32, head_dim=16)
  X = jax.random.normal(jax.random.key(0), (1, 5, 32))
  Y, _ = unit(X)
  Y1, _ = unit(X[:, :1])
  assert jnp.allclose(Y[:, :1], Y1, atol=1e-5)
