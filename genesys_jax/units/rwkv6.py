"""RWKV6 time-mix: token shift with data-dependent interpolation and data-dependent decay."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import DesignError, GAUBase, constant, gau_test, ops, param


def wkv6_chunked(r_BxLxHxK, k_BxLxHxK, v_BxLxHxV, logw_BxLxHxK, u_HxK, chunk: int):
  """RWKV6 recurrence in chunks: `o_t = r_t (S_{t-1} + diag(u) k_t^T v_t)`, `S_t = diag(w_t) S_{t-1} + k_t^T v_t`.

  `logw = log(w) <= 0`; within a chunk decays are cumulative sums, so every exponent is <= 0.
  """
  (r, length), (k, _), (v, _), (logw, _) = (ops.pad_to_multiple(t, chunk) for t in
                                            (r_BxLxHxK, k_BxLxHxK, v_BxLxHxV, logw_BxLxHxK))
  bsz, padded, heads, kdim = r.shape
  vdim = v.shape[-1]
  n = padded // chunk
  r, k, v = (t.reshape(bsz, n, chunk, heads, -1) for t in (r, k, v))
  logw = logw.reshape(bsz, n, chunk, heads, kdim).astype(jnp.float32)
  cum = jnp.cumsum(logw, axis=2)                      # decay through position t, inclusive
  cum_prev = cum - logw                               # decay through t-1
  strict_QxQ = jnp.tril(jnp.ones((chunk, chunk), dtype=bool), k=-1)
  diff = cum_prev[:, :, :, None] - cum[:, :, None, :]  # [b, c, t, s, h, k]: decay from s+1 to t-1
  decay = jnp.exp(jnp.where(strict_QxQ[None, None, :, :, None, None], diff, -jnp.inf)).astype(r.dtype)
  scores_BxCxTxSxH = jnp.einsum("bcthk,bcshk,bctshk->bctsh", r, k, decay)
  bonus_BxCxTxH = jnp.einsum("bcthk,bcthk,hk->bcth", r, k, u_HxK.astype(r.dtype))
  o_intra = jnp.einsum("bctsh,bcshv->bcthv", scores_BxCxTxSxH, v) + bonus_BxCxTxH[..., None] * v

  r_decayed = r * jnp.exp(cum_prev).astype(r.dtype)
  k_to_end = k * jnp.exp(cum[:, :, -1:] - cum).astype(r.dtype)
  chunk_states = jnp.einsum("bcshk,bcshv->bchkv", k_to_end, v)
  chunk_decay = jnp.exp(cum[:, :, -1]).astype(r.dtype)   # [b, c, h, k]

  def carry_state(s_BxHxKxV, inputs):
    state, dec = inputs
    return dec[..., None] * s_BxHxKxV + state, s_BxHxKxV

  s0 = jnp.zeros((bsz, heads, kdim, vdim), r.dtype)
  _, s_in = jax.lax.scan(carry_state, s0, (chunk_states.swapaxes(0, 1), chunk_decay.swapaxes(0, 1)))
  o_inter = jnp.einsum("bcthk,bchkv->bcthv", r_decayed, s_in.swapaxes(0, 1))
  return (o_intra + o_inter).reshape(bsz, padded, heads, vdim)[:, :length]


class RWKV6TimeMix(GAUBase):
  """RWKV6 (Finch) time mixing: LoRA-interpolated token shift, data-dependent decay, bonus `u`."""

  def __init__(self, embed_dim, block_loc, *, rngs, head_dim: int = 32, mix_rank: int = 32,
               decay_rank: int = 64, chunk_size: int = 16):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    if embed_dim % head_dim:
      raise DesignError(f"embed_dim {embed_dim} is not a multiple of head_dim {head_dim}", unit="RWKV6TimeMix")
    heads = embed_dim // head_dim
    self.heads, self.head_dim, self.chunk_size = heads, head_dim, chunk_size
    layer, n_layers = block_loc
    depth = layer / max(n_layers - 1, 1)
    mix_init = jax.nn.initializers.uniform(1.0)
    self.mu_x = param(rngs, (embed_dim,), ("embed",), mix_init)
    self.mu_wkvrg = param(rngs, (5, embed_dim), (None, "embed"), mix_init)
    self.mix_a = param(rngs, (embed_dim, 5, mix_rank), ("embed", None, None))
    self.mix_b = param(rngs, (5, mix_rank, embed_dim), (None, None, "embed"))
    self.decay_base = param(rngs, (embed_dim,), ("embed",), constant(-6.0 + 5.0 * depth))
    self.decay_a = param(rngs, (embed_dim, decay_rank), ("embed", None))
    self.decay_b = param(rngs, (decay_rank, embed_dim), (None, "embed"))
    self.w_rkv = param(rngs, (embed_dim, 3, heads, head_dim), ("embed", None, "heads", "kv"))
    self.w_gate = param(rngs, (embed_dim, embed_dim), ("embed", "mlp"))
    self.bonus = param(rngs, (heads, head_dim), ("heads", "kv"), constant(0.5))
    self.head_norm = param(rngs, (heads, head_dim), ("heads", "kv"), constant(1.0))
    self.w_out = param(rngs, (embed_dim, embed_dim), ("mlp", "embed"), residual=True)

  def _forward(self, X):
    bsz, length, _ = X.shape
    dx = ops.token_shift(X) - X
    lora = jnp.tanh(jnp.einsum("bld,dfr->blfr", X + dx * self.mu_x[...], self.mix_a[...]))
    mix_BxLx5xD = self.mu_wkvrg[...] + jnp.einsum("blfr,frd->blfd", lora, self.mix_b[...])
    xw, xk, xv, xr, xg = (X + dx * mix_BxLx5xD[:, :, i] for i in range(5))
    r = jnp.einsum("bld,dhk->blhk", xr, self.w_rkv[:, 0])
    k = jnp.einsum("bld,dhk->blhk", xk, self.w_rkv[:, 1])
    v = jnp.einsum("bld,dhk->blhk", xv, self.w_rkv[:, 2])
    logw = -jnp.exp(self.decay_base[...] + jnp.tanh(xw @ self.decay_a[...]) @ self.decay_b[...])
    logw = logw.reshape(bsz, length, self.heads, self.head_dim)
    o = wkv6_chunked(r, k, v, logw, self.bonus[...], self.chunk_size)
    o = ops.rms_norm(o, self.head_norm[...]).reshape(bsz, length, -1)
    return (o * jax.nn.silu(xg @ self.w_gate[...])) @ self.w_out[...]


@gau_test
def test_unit_decay_in_unit_interval(build):
  unit = build(embed_dim=32, head_dim=16)
  X = jax.random.normal(jax.random.key(0), (1, 9, 32))
  Y, _ = unit(X)
  assert bool(jnp.all(jnp.isfinite(Y)))
