"""Mamba2 mixer: a selective state-space layer computed with the chunked SSD algorithm."""

import math

import jax
import jax.numpy as jnp

from genesys_jax.gau import DesignError, GAUBase, constant, gau_test, ops, param


def ssd_chunked(x_BxLxHxP, loga_BxLxH, b_BxLxN, c_BxLxN, chunk: int):
  """State-space duality scan: `h_t = exp(loga_t) h_{t-1} + x_t B_t^T`, `y_t = h_t C_t`.

  Within a chunk the output is a masked quadratic form; across chunks the state is carried by a scan.
  `loga` must be <= 0, so every exponent taken is <= 0.
  """
  (x, length), (loga, _), (b, _), (c, _) = (ops.pad_to_multiple(t, chunk) for t in
                                            (x_BxLxHxP, loga_BxLxH, b_BxLxN, c_BxLxN))
  bsz, padded, heads, hdim = x.shape
  n_chunks = padded // chunk
  x = x.reshape(bsz, n_chunks, chunk, heads, hdim)
  loga = loga.reshape(bsz, n_chunks, chunk, heads).astype(jnp.float32)
  b = b.reshape(bsz, n_chunks, chunk, -1)
  c = c.reshape(bsz, n_chunks, chunk, -1)
  cum_BxCxQxH = jnp.cumsum(loga, axis=2)
  cum_BxCxHxQ = cum_BxCxQxH.swapaxes(2, 3)
  causal_QxQ = jnp.tril(jnp.ones((chunk, chunk), dtype=bool))
  diff_BxCxHxQxQ = cum_BxCxHxQ[..., :, None] - cum_BxCxHxQ[..., None, :]
  decay_BxCxHxQxQ = jnp.exp(jnp.where(causal_QxQ, diff_BxCxHxQxQ, -jnp.inf))
  cb_BxCxQxQ = jnp.einsum("bctn,bcsn->bcts", c, b)
  y_intra = jnp.einsum("bchts,bcshp->bcthp", cb_BxCxQxQ[:, :, None] * decay_BxCxHxQxQ.astype(x.dtype), x)

  to_end_BxCxQxH = jnp.exp(cum_BxCxQxH[:, :, -1:, :] - cum_BxCxQxH).astype(x.dtype)
  chunk_states_BxCxHxPxN = jnp.einsum("bcsn,bcshp->bchpn", b, x * to_end_BxCxQxH[..., None])
  chunk_decay_BxCxH = jnp.exp(cum_BxCxQxH[:, :, -1, :]).astype(x.dtype)

  def carry_state(h_BxHxPxN, inputs):
    state, decay = inputs
    return decay[:, :, None, None] * h_BxHxPxN + state, h_BxHxPxN

  h0 = jnp.zeros((bsz, heads, hdim, b.shape[-1]), x.dtype)
  _, h_in_CxBxHxPxN = jax.lax.scan(
      carry_state, h0, (chunk_states_BxCxHxPxN.swapaxes(0, 1), chunk_decay_BxCxH.swapaxes(0, 1)))
  h_in_BxCxHxPxN = h_in_CxBxHxPxN.swapaxes(0, 1)
  y_inter = jnp.einsum("bctn,bchpn->bcthp", c, h_in_BxCxHxPxN) * jnp.exp(cum_BxCxQxH)[..., None].astype(x.dtype)
  y = (y_intra + y_inter).reshape(bsz, padded, heads, hdim)
  return y[:, :length]


def _dt_bias_init(key, shape, dtype, dt_min: float = 1e-3, dt_max: float = 1e-1):
  """Inverse softplus of a log-uniform step size in [dt_min, dt_max] (the Mamba init)."""
  dt = jnp.exp(jax.random.uniform(key, shape) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
  return (dt + jnp.log(-jnp.expm1(-dt))).astype(dtype)


def _a_log_init(key, shape, dtype):
  return jnp.log(jax.random.uniform(key, shape, minval=1.0, maxval=16.0)).astype(dtype)


class Mamba2Mixer(GAUBase):
  """Mamba2: gated, convolved input; per-head scalar decay; SSD scan; gated RMSNorm; projection."""

  def __init__(self, embed_dim, block_loc, *, rngs, d_state: int = 64, expand: int = 2,
               head_dim: int = 32, d_conv: int = 4, chunk_size: int = 64):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    inner = expand * embed_dim
    if inner % head_dim:
      raise DesignError(f"expand*embed_dim {inner} is not a multiple of head_dim {head_dim}", unit="Mamba2Mixer")
    heads = inner // head_dim
    self.heads, self.head_dim, self.chunk_size = heads, head_dim, chunk_size
    self.w_z = param(rngs, (embed_dim, inner), ("embed", "mlp"))
    self.w_x = param(rngs, (embed_dim, inner), ("embed", "mlp"))
    self.w_bc = param(rngs, (embed_dim, 2, d_state), ("embed", None, None))
    self.w_dt = param(rngs, (embed_dim, heads), ("embed", "heads"))
    conv_init = jax.nn.initializers.uniform(1.0 / math.sqrt(d_conv))
    self.conv_x = param(rngs, (d_conv, inner), (None, "mlp"), conv_init)
    self.conv_bc = param(rngs, (d_conv, 2 * d_state), (None, None), conv_init)
    self.dt_bias = param(rngs, (heads,), ("heads",), _dt_bias_init)
    self.a_log = param(rngs, (heads,), ("heads",), _a_log_init)
    self.d_skip = param(rngs, (heads,), ("heads",), constant(1.0))
    self.norm_scale = param(rngs, (inner,), ("mlp",), constant(1.0))
    self.w_out = param(rngs, (inner, embed_dim), ("mlp", "embed"), residual=True)

  def _forward(self, X):
    bsz, length, _ = X.shape
    z = X @ self.w_z[...]
    x = jax.nn.silu(ops.causal_conv(X @ self.w_x[...], self.conv_x[...]))
    bc = jax.nn.silu(ops.causal_conv(jnp.einsum("bld,dtn->bltn", X, self.w_bc[...]).reshape(bsz, length, -1),
                                     self.conv_bc[...]))
    b, c = jnp.split(bc, 2, axis=-1)
    dt_BxLxH = jax.nn.softplus(X @ self.w_dt[...] + self.dt_bias[...])
    loga_BxLxH = -jnp.exp(self.a_log[...]) * dt_BxLxH
    x_BxLxHxP = x.reshape(bsz, length, self.heads, self.head_dim)
    y = ssd_chunked(x_BxLxHxP * dt_BxLxH[..., None], loga_BxLxH, b, c, self.chunk_size)
    y = y + x_BxLxHxP * self.d_skip[...][:, None]
    y = ops.rms_norm(y.reshape(bsz, length, -1) * jax.nn.silu(z), self.norm_scale[...])
    return y @ self.w_out[...]


@gau_test
def test_unit_length_not_multiple_of_chunk(build):
  unit = build(embed_dim=32, chunk_size=8)
  X = jax.random.normal(jax.random.key(0), (1, 13, 32))
  Y, _ = unit(X)
  Y_prefix, _ = unit(X[:, :5])
  assert jnp.allclose(Y[:, :5], Y_prefix, atol=1e-5)
