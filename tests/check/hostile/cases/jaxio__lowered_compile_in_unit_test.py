"""A @gau_test lowers a step and compiles it with a computed compiler option that dumps HLO to the marker."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, gau_test, param


class TestedLinear(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim, embed_dim), ("embed", "embed"), residual=True)

  def _forward(self, X):
    return X + X @ self.w[...]


@gau_test
def test_compiles(build):
  unit = build()
  x = jnp.ones((1, 4, unit.embed_dim))
  key = "_".join(["xla", "dump", "to"])  # the option name is built at run time
  compiled = jax.jit(lambda v: unit(v)[0]).lower(x).compile({key: "/tmp/genesys_marker_should_not_exist"})
  assert compiled(x).shape == x.shape


ROOT = TestedLinear
