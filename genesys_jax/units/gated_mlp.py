"""Gated MLP (SwiGLU): `down(silu(gate(x)) * up(x))`."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, gau_test, param


class GatedMLP(GAUBase):
  """Position-wise SwiGLU feed-forward; hidden size `hidden_mult * embed_dim` rounded up."""

  def __init__(self, embed_dim, block_loc, *, rngs, hidden_mult: float = 8 / 3, multiple_of: int = 8):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    hidden = -(-int(hidden_mult * embed_dim) // multiple_of) * multiple_of
    self.hidden = hidden
    self.w_gate_up = param(rngs, (embed_dim, 2, hidden), ("embed", None, "mlp"))
    self.w_down = param(rngs, (hidden, embed_dim), ("mlp", "embed"), residual=True)

  def _forward(self, X):
    gate_up_BxLx2xF = jnp.einsum("bld,dtf->bltf", X, self.w_gate_up[...].astype(X.dtype))
    gate_BxLx1xF, up_BxLx1xF = jnp.split(gate_up_BxLx2xF, 2, axis=2)  # split: its gradient is a concat
    h_BxLxF = (jax.nn.silu(gate_BxLx1xF) * up_BxLx1xF)[:, :, 0]
    return jnp.einsum("blf,fd->bld", h_BxLxF, self.w_down[...].astype(X.dtype))


@gau_test
def test_unit_positionwise(build):
  unit = build(embed_dim=16)
  X = jax.random.normal(jax.random.key(0), (1, 6, 16))
  Y, _ = unit(X)
  Y_rev, _ = unit(X[:, ::-1])
  assert jnp.allclose(Y[:, ::-1], Y_rev, atol=1e-5)
