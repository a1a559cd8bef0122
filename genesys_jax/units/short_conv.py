"""Gated short causal convolution (H3 / Hyena-style local mixer)."""

import math

import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, gau_test, ops, param


class ShortConv(GAUBase):
  """`out(silu(conv(value(x))) * sigmoid(gate(x)))` with a depthwise causal kernel of `width` taps."""

  def __init__(self, embed_dim, block_loc, *, rngs, width: int = 4):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w_in = param(rngs, (embed_dim, 2, embed_dim), ("embed", None, "mlp"))
    self.kernel = param(rngs, (width, embed_dim), (None, "mlp"),
                        jax.nn.initializers.uniform(1.0 / math.sqrt(width)))
    self.w_out = param(rngs, (embed_dim, embed_dim), ("mlp", "embed"), residual=True)

  def _forward(self, X):
    value_gate = jnp.einsum("bld,dte->blte", X, self.w_in[...])
    h = jax.nn.silu(ops.causal_conv(value_gate[:, :, 0], self.kernel[...]))
    return (h * jax.nn.sigmoid(value_gate[:, :, 1])) @ self.w_out[...]


@gau_test
def test_unit_receptive_field_is_width(build):
  unit = build(embed_dim=16, width=3)
  X = jax.random.normal(jax.random.key(0), (1, 8, 16))
  Y, _ = unit(X)
  Y2, _ = unit(X.at[:, 0].set(5.0))
  assert not jnp.allclose(Y[:, 2], Y2[:, 2]) and jnp.allclose(Y[:, 3:], Y2[:, 3:])
