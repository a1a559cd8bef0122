"""Output gating around a sequence mixer (as in RetNet, GLA and Mamba): `inner(x) * silu(x W)`."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import ChildDecl, GAUBase, gau_test, param


class GatedMixer(GAUBase):
  """Multiplies the inner mixer's output by a SiLU gate computed from the same input position."""

  CHILDREN = (ChildDecl("inner", "MHA", doc="the sequence mixer whose output is gated"),)

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.inner = self.make_child("inner", rngs)
    self.w_gate = param(rngs, (embed_dim, embed_dim), ("embed", "mlp"))

  def _forward(self, X, **Z):
    Y, Z = self.inner(X, **Z)
    return Y * jax.nn.silu(X @ self.w_gate[...].astype(X.dtype)), Z


@gau_test
def test_unit_gate_depends_only_on_the_same_position(build):
  unit = build(embed_dim=32)
  X = jax.random.normal(jax.random.key(0), (1, 6, 32))
  Y, _ = unit(X)
  Y2, _ = unit(X.at[:, 4:].set(1.0))
  assert jnp.allclose(Y[:, :4], Y2[:, :4], atol=1e-5)
