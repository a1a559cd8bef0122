"""A pre-norm residual block: `x + mixer(norm1(x))`, then `+ mlp(norm2(.))`."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import ChildDecl, GAUBase, gau_test


class PreNormBlock(GAUBase):
  """Two pre-normalized residual sublayers: a sequence mixer, then a channel mixer."""

  CHILDREN = (
      ChildDecl("norm1", "RMSNorm", doc="normalizes the mixer's input"),
      ChildDecl("mixer", "MHA", doc="mixes information across positions, causally"),
      ChildDecl("norm2", "RMSNorm", doc="normalizes the channel mixer's input"),
      ChildDecl("mlp", "GatedMLP", doc="mixes features within a position"),
  )

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.norm1 = self.make_child("norm1", rngs)
    self.mixer = self.make_child("mixer", rngs)
    self.norm2 = self.make_child("norm2", rngs)
    self.mlp = self.make_child("mlp", rngs)

  def _forward(self, X, **Z):
    H, Z = self.norm1(X, **Z)
    H, Z = self.mixer(H, **Z)
    X = X + H
    H, Z = self.norm2(X, **Z)
    H, Z = self.mlp(H, **Z)
    return X + H, Z


@gau_test
def test_unit_block_shapes(build):
  unit = build(embed_dim=32)
  X = jax.random.normal(jax.random.key(0), (2, 7, 32))
  Y, _ = unit(X)
  assert Y.shape == X.shape and bool(jnp.all(jnp.isfinite(Y)))
