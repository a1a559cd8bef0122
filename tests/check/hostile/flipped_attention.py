import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, param


class FlippedAttention(GAUBase):
  """Attention with the mask the wrong way round: each position sees the future."""

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w_qkv = param(rngs, (embed_dim, 3, embed_dim), ("embed", None, "heads"))
    self.w_out = param(rngs, (embed_dim, embed_dim), ("heads", "embed"), residual=True)

  def _forward(self, X):
    qkv = jnp.einsum("bld,dte->blte", X, self.w_qkv[...])
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    scores = jnp.einsum("bte,bse->bts", q, k)
    length = X.shape[1]
    mask = jnp.triu(jnp.ones((length, length), dtype=bool))
    probs = jax.nn.softmax(jnp.where(mask, scores, -1e30), axis=-1)
    return X + jnp.einsum("bts,bse->bte", probs, v) @ self.w_out[...]


ROOT = FlippedAttention
