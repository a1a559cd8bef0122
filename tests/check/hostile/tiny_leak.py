import jax.numpy as jnp

from genesys_jax.gau import GAUBase, param


class TinyLeak(GAUBase):
  """A causal MLP plus a whisper of the whole sequence's mean: too small for the perturbation test."""

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim, 4 * embed_dim), ("embed", "mlp"))
    self.v = param(rngs, (4 * embed_dim, embed_dim), ("mlp", "embed"), residual=True)

  def _forward(self, X):
    return X + jnp.tanh(X @ self.w[...]) @ self.v[...] + 1e-9 * jnp.mean(X, axis=1, keepdims=True)


ROOT = TinyLeak
