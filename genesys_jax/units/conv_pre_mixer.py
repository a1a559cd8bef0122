"""A short causal convolution in front of a sequence mixer (as in H3, Based and Mamba)."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import ChildDecl, GAUBase, gau_test


class ConvPreMixer(GAUBase):
  """`inner(x + conv(x))`: local token mixing first, so the inner mixer sees n-gram features."""

  CHILDREN = (
      ChildDecl("conv", "ShortConv", doc="a local causal mixer over the last few positions"),
      ChildDecl("inner", "MHA", doc="the sequence mixer that reads the convolved input"),
  )

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.conv = self.make_child("conv", rngs)
    self.inner = self.make_child("inner", rngs)

  def _forward(self, X, **Z):
    C, Z = self.conv(X, **Z)
    H = X + C
    Y, Z = self.inner(H, **Z)
    return Y, Z


@gau_test
def test_unit_is_causal(build):
  unit = build(embed_dim=32)
  X = jax.random.normal(jax.random.key(0), (1, 9, 32))
  Y, _ = unit(X)
  Y2, _ = unit(X.at[:, 6:].set(3.0))
  assert jnp.allclose(Y[:, :6], Y2[:, :6], atol=1e-5) and not jnp.allclose(Y[:, 6:], Y2[:, 6:])
