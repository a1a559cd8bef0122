"""Stateless operations shared by units: rotary embeddings, causal convolution, token shift, norms.

All are causal along the length axis (axis 1) by construction.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def rms_norm(x: jax.Array, scale: jax.Array | None = None, eps: float = 1e-6) -> jax.Array:
  """Root-mean-square normalization over the last axis, in float32, times `scale` if given."""
  x32 = x.astype(jnp.float32)
  y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + eps)
  if scale is not None:
    y = y * scale.astype(jnp.float32)
  return y.astype(x.dtype)


def rotary(x_BxLxHxK: jax.Array, base: float = 10000.0, offset: int = 0) -> jax.Array:
  """Rotary position embedding on the last axis (split halves), positions `offset + arange(L)`."""
  length, k = x_BxLxHxK.shape[1], x_BxLxHxK.shape[-1]
  if k % 2:
    raise ValueError(f"rotary needs an even head dimension, got {k}")
  inv_freq_K2 = 1.0 / (base ** (jnp.arange(0, k, 2, dtype=jnp.float32) / k))
  pos_L = jnp.arange(length, dtype=jnp.float32) + offset
  angle_LxK2 = pos_L[:, None] * inv_freq_K2[None, :]
  cos, sin = jnp.cos(angle_LxK2)[None, :, None, :], jnp.sin(angle_LxK2)[None, :, None, :]
  x1, x2 = jnp.split(x_BxLxHxK.astype(jnp.float32), 2, axis=-1)
  out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
  return out.astype(x_BxLxHxK.dtype)


def causal_conv(x_BxLxC: jax.Array, kernel_WxC: jax.Array, bias_C: jax.Array | None = None) -> jax.Array:
  """Depthwise causal convolution: output t sees inputs t-W+1 .. t (left zero padding)."""
  width = kernel_WxC.shape[0]
  padded = jnp.pad(x_BxLxC, ((0, 0), (width - 1, 0), (0, 0)))
  length = x_BxLxC.shape[1]
  y = sum(padded[:, i:i + length, :] * kernel_WxC[i].astype(x_BxLxC.dtype) for i in range(width))
  if bias_C is not None:
    y = y + bias_C.astype(x_BxLxC.dtype)
  return y


def token_shift(x_BxLxD: jax.Array) -> jax.Array:
  """The previous token's features at every position (zeros at position 0)."""
  return jnp.pad(x_BxLxD, ((0, 0), (1, 0), (0, 0)))[:, :-1, :]


def pad_to_multiple(x: jax.Array, multiple: int, axis: int = 1) -> tuple[jax.Array, int]:
  """Right-pads `axis` with zeros to a multiple of `multiple`; returns the array and the original size.

  Right padding is causal-safe: padded positions come after every real one and are sliced off.
  """
  size = x.shape[axis]
  extra = (-size) % multiple
  if extra:
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, extra)
    x = jnp.pad(x, widths)
  return x, size


def decayed_linear_attention(q_BxLxHxK: jax.Array, k_BxLxHxK: jax.Array, v_BxLxHxV: jax.Array,
                             log_decay_H: jax.Array) -> jax.Array:
  """`o_t = sum_{s<=t} decay_h^(t-s) (q_t . k_s) v_s` per head, as a masked quadratic form.

  With `log_decay = 0` this is causal linear attention; with `log(gamma_h)` it is RetNet's retention.
  """
  length = q_BxLxHxK.shape[1]
  pos = jnp.arange(length, dtype=jnp.float32)
  dist_LxL = pos[:, None] - pos[None, :]
  decay_HxLxL = jnp.exp(jnp.where(dist_LxL >= 0, log_decay_H[:, None, None] * dist_LxL, -jnp.inf))
  scores_BxHxLxL = jnp.einsum("bthk,bshk->bhts", q_BxLxHxK, k_BxLxHxK) * decay_HxLxL.astype(q_BxLxHxK.dtype)
  return jnp.einsum("bhts,bshv->bthv", scores_BxHxLxL, v_BxLxHxV)
