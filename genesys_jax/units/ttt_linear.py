"""TTT-Linear: a linear hidden state trained by gradient descent on a self-supervised loss, per sequence."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import DesignError, GAUBase, constant, gau_test, ops, param


def _layer_norm(z_K, scale_K, bias_K, eps: float = 1e-6):
  mean = jnp.mean(z_K, axis=-1, keepdims=True)
  var = jnp.mean(jnp.square(z_K - mean), axis=-1, keepdims=True)
  return (z_K - mean) * jax.lax.rsqrt(var + eps) * scale_K + bias_K


def ttt_linear_dual(q_BxLxHxK, x_BxLxHxK, y_BxLxHxK, eta_BxLxH, w0_HxKxK, b0_HxK, ln_scale_HxK, ln_bias_HxK,
                    mini_batch: int):
  """Mini-batch TTT in dual form.

  Inner model `f(x) = LN(x W + b)`, loss `l_s = 0.5 |f(x_s) - y_s|^2`. Within mini-batch i every gradient
  is taken at the state `(W, b)` reached after mini-batch i-1; token t sees
  `W_t = W - sum_{s<=t} eta_s x_s^T g_s` (g_s = dl_s/dz_s) and outputs `LN(q_t W_t + b_t)`.
  """
  (q, length), (x, _), (y, _), (eta, _) = (ops.pad_to_multiple(t, mini_batch) for t in
                                           (q_BxLxHxK, x_BxLxHxK, y_BxLxHxK, eta_BxLxH))
  bsz, padded, heads, kdim = q.shape
  n = padded // mini_batch
  q, x, y = (t.reshape(bsz, n, mini_batch, heads, kdim).swapaxes(0, 1) for t in (q, x, y))
  eta = eta.reshape(bsz, n, mini_batch, heads).swapaxes(0, 1)
  causal_TxS = jnp.tril(jnp.ones((mini_batch, mini_batch), dtype=q.dtype))

  def step(state, inputs):
    w_BxHxKxK, b_BxHxK = state
    q_i, x_i, y_i, eta_i = inputs
    z_i = jnp.einsum("bshk,bhkj->bshj", x_i, w_BxHxKxK) + b_BxHxK[:, None]
    f_i, f_vjp = jax.vjp(lambda z: _layer_norm(z, ln_scale_HxK, ln_bias_HxK), z_i)
    (g_i,) = f_vjp(f_i - y_i)
    weights_BxHxTxS = (jnp.einsum("bthk,bshk->bhts", q_i, x_i) + 1.0) * causal_TxS
    weights_BxHxTxS = weights_BxHxTxS * eta_i.transpose(0, 2, 1)[:, :, None, :]
    zq_i = (jnp.einsum("bthk,bhkj->bthj", q_i, w_BxHxKxK) + b_BxHxK[:, None]
            - jnp.einsum("bhts,bshj->bthj", weights_BxHxTxS, g_i))
    out_i = _layer_norm(zq_i, ln_scale_HxK, ln_bias_HxK)
    w_next = w_BxHxKxK - jnp.einsum("bshk,bsh,bshj->bhkj", x_i, eta_i, g_i)
    b_next = b_BxHxK - jnp.einsum("bsh,bshj->bhj", eta_i, g_i)
    return (w_next, b_next), out_i

  state0 = (jnp.broadcast_to(w0_HxKxK, (bsz,) + w0_HxKxK.shape), jnp.broadcast_to(b0_HxK, (bsz,) + b0_HxK.shape))
  _, out = jax.lax.scan(step, state0, (q, x, y, eta))
  return out.swapaxes(0, 1).reshape(bsz, padded, heads, kdim)[:, :length]


class TTTLinear(GAUBase):
  """TTT-Linear layer: keys train a per-head linear model to reconstruct values; queries read it."""

  def __init__(self, embed_dim, block_loc, *, rngs, head_dim: int = 32, mini_batch: int = 16,
               base_lr: float = 1.0):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    if embed_dim % head_dim:
      raise DesignError(f"embed_dim {embed_dim} is not a multiple of head_dim {head_dim}", unit="TTTLinear")
    heads = embed_dim // head_dim
    self.heads, self.head_dim, self.mini_batch, self.base_lr = heads, head_dim, mini_batch, base_lr
    self.w_qkv = param(rngs, (embed_dim, 3, heads, head_dim), ("embed", None, "heads", "kv"))
    self.w_lr = param(rngs, (embed_dim, heads), ("embed", "heads"))
    self.b_lr = param(rngs, (heads,), ("heads",), jax.nn.initializers.zeros)
    self.w0 = param(rngs, (heads, head_dim, head_dim), ("heads", "kv", None))
    self.b0 = param(rngs, (heads, head_dim), ("heads", "kv"), jax.nn.initializers.zeros)
    self.ln_scale = param(rngs, (heads, head_dim), ("heads", "kv"), constant(1.0))
    self.ln_bias = param(rngs, (heads, head_dim), ("heads", "kv"), jax.nn.initializers.zeros)
    self.out_norm = param(rngs, (embed_dim,), ("embed",), constant(1.0))
    self.w_out = param(rngs, (embed_dim, embed_dim), ("mlp", "embed"), residual=True)

  def _forward(self, X):
    bsz, length, _ = X.shape
    qkv = jnp.einsum("bld,dthk->blthk", X, self.w_qkv[...])
    q, k, v = ops.rotary(qkv[:, :, 0]), ops.rotary(qkv[:, :, 1]), qkv[:, :, 2]
    eta_BxLxH = self.base_lr * jax.nn.sigmoid(X @ self.w_lr[...] + self.b_lr[...]) / self.head_dim
    z = ttt_linear_dual(q, k, v - k, eta_BxLxH, self.w0[...], self.b0[...], self.ln_scale[...],
                        self.ln_bias[...], self.mini_batch)
    o = ops.rms_norm((q + z).reshape(bsz, length, -1), self.out_norm[...])
    return o @ self.w_out[...]


@gau_test
def test_unit_state_carries_across_mini_batches(build):
  unit = build(embed_dim=32, head_dim=16, mini_batch=4)
  X = jax.random.normal(jax.random.key(0), (1, 12, 32))
  Y, _ = unit(X)
  Y2, _ = unit(X.at[:, 0].set(0.0))
  assert not jnp.allclose(Y[:, 8:], Y2[:, 8:]), "the first mini-batch should change later outputs"
