"""A parallel residual block (GPT-J / PaLM style): `x + mixer(norm(x)) + mlp(norm(x))`."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import ChildDecl, GAUBase, gau_test


class ParallelBlock(GAUBase):
  """One shared pre-norm feeds a sequence mixer and a channel mixer side by side; both add to `x`."""

  CHILDREN = (
      ChildDecl("norm", "RMSNorm", doc="normalizes the input both branches read"),
      ChildDecl("mixer", "MHA", doc="mixes information across positions, causally"),
      ChildDecl("mlp", "GatedMLP", doc="mixes features within a position"),
  )

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.norm = self.make_child("norm", rngs)
    self.mixer = self.make_child("mixer", rngs)
    self.mlp = self.make_child("mlp", rngs)

  def _forward(self, X, **Z):
    H, Z = self.norm(X, **Z)
    A, Z = self.mixer(H, **Z)
    M, Z = self.mlp(H, **Z)
    return X + A + M, Z


@gau_test
def test_unit_branches_add_to_the_input(build):
  unit = build(embed_dim=32)
  X = jax.random.normal(jax.random.key(0), (2, 7, 32))
  Y, _ = unit(X)
  assert Y.shape == X.shape and bool(jnp.all(jnp.isfinite(Y))) and not jnp.allclose(X, Y)
