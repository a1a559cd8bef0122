"""MHA's attention layout matches a plain full-matrix einsum attention in outputs and gradients."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genesys_jax.gau import ops
from genesys_jax.units.mha import MHA

ATOL = 2e-5


def reference_attention(params: nnx.State, X_BxLxD: jax.Array, head_dim: int, rope_base: float,
                        window: int) -> jax.Array:
  """Causal rotary attention with the whole `[B, H, L, L]` score matrix and a boolean mask."""
  qkv_BxLx3xHxK = jnp.einsum("bld,dthk->blthk", X_BxLxD, params["w_qkv"][...])
  q_BxLxHxK, k_BxLxHxK = (ops.rotary(qkv_BxLx3xHxK[:, :, i], rope_base) for i in (0, 1))
  scores_BxHxLxL = jnp.einsum("blhk,bmhk->bhlm", q_BxLxHxK, k_BxLxHxK) / math.sqrt(head_dim)
  pos_L = jnp.arange(X_BxLxD.shape[1])
  dist_LxL = pos_L[:, None] - pos_L[None, :]
  allowed_LxL = (dist_LxL >= 0) & ((dist_LxL < window) if window > 0 else True)
  probs_BxHxLxL = jax.nn.softmax(jnp.where(allowed_LxL, scores_BxHxLxL, jnp.finfo(jnp.float32).min), axis=-1)
  out_BxLxHxK = jnp.einsum("bhlm,bmhk->blhk", probs_BxHxLxL, qkv_BxLx3xHxK[:, :, 2])
  return jnp.einsum("blhk,hkd->bld", out_BxLxHxK, params["w_out"][...])


@pytest.mark.parametrize("window", [0, 5])
@pytest.mark.parametrize("length", [1, 7, 33, 130])
def test_outputs_and_gradients_match_the_full_matrix_reference(window, length):
  unit = MHA(64, (0, 1), rngs=nnx.Rngs(0), head_dim=16, window=window)
  graph, params, rest = nnx.split(unit, nnx.Param, ...)
  params = jax.tree.map(lambda p: p * 10.0, params)  # larger weights give sharper, less uniform attention
  X_BxLxD = jax.random.normal(jax.random.key(length), (2, length, 64))
  cotangent_BxLxD = jax.random.normal(jax.random.key(length + 1), (2, length, 64))

  def unit_loss(params, X_BxLxD):
    return jnp.sum(nnx.merge(graph, params, rest)(X_BxLxD)[0] * cotangent_BxLxD)

  def reference_loss(params, X_BxLxD):
    return jnp.sum(reference_attention(params, X_BxLxD, 16, unit.rope_base, window) * cotangent_BxLxD)

  Y_BxLxD = jax.jit(lambda p, x: nnx.merge(graph, p, rest)(x)[0])(params, X_BxLxD)
  np.testing.assert_allclose(Y_BxLxD, reference_attention(params, X_BxLxD, 16, unit.rope_base, window), atol=ATOL)
  got, want = (jax.jit(jax.grad(f, argnums=(0, 1)))(params, X_BxLxD) for f in (unit_loss, reference_loss))
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(g, w, atol=ATOL * 10, rtol=1e-4)
