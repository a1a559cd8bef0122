"""The chunked / parallel forms of the recurrent seeds equal step-by-step recurrent references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genesys_jax.units.mamba2 import ssd_chunked
from genesys_jax.gau.ops import decayed_linear_attention
from genesys_jax.units.retention import head_log_decays
from genesys_jax.units.rwkv6 import wkv6_chunked
from genesys_jax.units.ttt_linear import _layer_norm, ttt_linear_dual

B, L, H, K = 2, 37, 3, 8
ATOL = 2e-4


def _normal(i, *shape):
  return jax.random.normal(jax.random.key(i), shape, jnp.float32)


def ssd_recurrent(x, loga, b, c):
  h = jnp.zeros((x.shape[0], x.shape[2], x.shape[3], b.shape[-1]))
  ys = []
  for t in range(x.shape[1]):
    h = jnp.exp(loga[:, t])[:, :, None, None] * h + jnp.einsum("bhp,bn->bhpn", x[:, t], b[:, t])
    ys.append(jnp.einsum("bhpn,bn->bhp", h, c[:, t]))
  return jnp.stack(ys, axis=1)


@pytest.mark.parametrize("chunk", [1, 8, 16, 64])
def test_ssd_chunked_equals_recurrence(chunk):
  x, b, c = _normal(0, B, L, H, K), _normal(1, B, L, 5), _normal(2, B, L, 5)
  loga = -jax.nn.softplus(_normal(3, B, L, H))
  np.testing.assert_allclose(ssd_chunked(x, loga, b, c, chunk), ssd_recurrent(x, loga, b, c), atol=ATOL)


def retention_recurrent(q, k, v, log_gamma):
  s = jnp.zeros((q.shape[0], q.shape[2], q.shape[3], v.shape[3]))
  out = []
  for t in range(q.shape[1]):
    s = jnp.exp(log_gamma)[None, :, None, None] * s + jnp.einsum("bhk,bhv->bhkv", k[:, t], v[:, t])
    out.append(jnp.einsum("bhk,bhkv->bhv", q[:, t], s))
  return jnp.stack(out, axis=1)


def test_retention_parallel_equals_recurrence():
  q, k, v = _normal(0, B, L, H, K), _normal(1, B, L, H, K), _normal(2, B, L, H, K)
  log_gamma = head_log_decays(H)
  np.testing.assert_allclose(decayed_linear_attention(q, k, v, log_gamma), retention_recurrent(q, k, v, log_gamma),
                             atol=ATOL, rtol=1e-4)


def wkv6_recurrent(r, k, v, logw, u):
  s = jnp.zeros((r.shape[0], r.shape[2], r.shape[3], v.shape[3]))
  out = []
  for t in range(r.shape[1]):
    kv = jnp.einsum("bhk,bhv->bhkv", k[:, t], v[:, t])
    out.append(jnp.einsum("bhk,bhkv->bhv", r[:, t], s + u[None, :, :, None] * kv))
    s = jnp.exp(logw[:, t])[..., None] * s + kv
  return jnp.stack(out, axis=1)


@pytest.mark.parametrize("chunk", [1, 5, 16, 64])
def test_wkv6_chunked_equals_recurrence(chunk):
  r, k, v = _normal(0, B, L, H, K), _normal(1, B, L, H, K), _normal(2, B, L, H, K)
  logw = -jnp.exp(_normal(3, B, L, H, K) - 1.0)
  u = _normal(4, H, K)
  np.testing.assert_allclose(wkv6_chunked(r, k, v, logw, u, chunk), wkv6_recurrent(r, k, v, logw, u),
                             atol=ATOL, rtol=1e-4)


def ttt_primal(q, x, y, eta, w0, b0, scale, bias, mini_batch):
  """Token by token: gradients at the mini-batch's starting state, accumulated up to each token."""
  w = jnp.broadcast_to(w0, (q.shape[0],) + w0.shape)
  bb = jnp.broadcast_to(b0, (q.shape[0],) + b0.shape)

  def loss(w_, b_, x_t, y_t):  # one token, all batch rows and heads
    z = jnp.einsum("bhk,bhkj->bhj", x_t, w_) + b_
    return 0.5 * jnp.sum(jnp.square(_layer_norm(z, scale, bias) - y_t))

  grad = jax.grad(loss, argnums=(0, 1))
  out = []
  for start in range(0, q.shape[1], mini_batch):
    w_t, b_t = w, bb
    for t in range(start, min(start + mini_batch, q.shape[1])):
      gw, gb = grad(w, bb, x[:, t], y[:, t])
      w_t = w_t - eta[:, t][..., None, None] * gw
      b_t = b_t - eta[:, t][..., None] * gb
      z = jnp.einsum("bhk,bhkj->bhj", q[:, t], w_t) + b_t
      out.append(_layer_norm(z, scale, bias))
    w, bb = w_t, b_t
  return jnp.stack(out, axis=1)


@pytest.mark.parametrize("mini_batch", [1, 4, 16])
def test_ttt_dual_equals_primal(mini_batch):
  q, x, y = _normal(0, B, L, H, K), _normal(1, B, L, H, K), _normal(2, B, L, H, K)
  eta = jax.nn.sigmoid(_normal(3, B, L, H)) * 0.1
  w0, b0 = _normal(4, H, K, K) * 0.1, _normal(5, H, K) * 0.1
  scale, bias = 1.0 + 0.1 * _normal(6, H, K), 0.1 * _normal(7, H, K)
  np.testing.assert_allclose(ttt_linear_dual(q, x, y, eta, w0, b0, scale, bias, mini_batch),
                             ttt_primal(q, x, y, eta, w0, b0, scale, bias, mini_batch), atol=ATOL, rtol=1e-4)
