"""RMSNorm: scale each position's features by the inverse of their root mean square."""

import jax

from genesys_jax.gau import GAUBase, constant, gau_test, ops, param


class RMSNorm(GAUBase):
  """Root-mean-square normalization with a learned per-feature scale."""

  def __init__(self, embed_dim, block_loc, *, rngs, eps: float = 1e-6):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.eps = eps
    self.scale = param(rngs, (embed_dim,), ("embed",), constant(1.0))

  def _forward(self, X):
    return ops.rms_norm(X, self.scale[...], self.eps)


@gau_test
def test_unit_rms(build):
  unit = build(embed_dim=16)
  X = jax.random.normal(jax.random.key(0), (2, 5, 16)) * 3.0
  Y, _ = unit(X)
  rms = jax.numpy.sqrt(jax.numpy.mean(Y * Y, axis=-1))
  assert jax.numpy.allclose(rms, 1.0, atol=1e-3), rms
