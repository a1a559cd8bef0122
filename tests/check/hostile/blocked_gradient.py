import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, param


class Frozen(GAUBase):
  """A projection whose weights are cut off from the loss by stop_gradient."""

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim, 12 * embed_dim), ("embed", "mlp"))
    self.v = param(rngs, (12 * embed_dim, embed_dim), ("mlp", "embed"), residual=True)

  def _forward(self, X):
    return X + jnp.tanh(X @ jax.lax.stop_gradient(self.w[...])) @ self.v[...]


ROOT = Frozen
