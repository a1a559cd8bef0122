import jax.numpy as jnp

from genesys_jax.gau import GAUBase, param


class Mlp(GAUBase):
  """A valid causal MLP block with one parameter it never uses (accepted, with a warning)."""

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim, 12 * embed_dim), ("embed", "mlp"))
    self.v = param(rngs, (12 * embed_dim, embed_dim), ("mlp", "embed"), residual=True)
    self.spare = param(rngs, (embed_dim,), ("embed",))

  def _forward(self, X):
    return X + jnp.tanh(X @ self.w[...]) @ self.v[...]


ROOT = Mlp
