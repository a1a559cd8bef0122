"""Patches nnx.Variable.replace through an unpacked alias, so the checker's parameter bump is a no-op."""
import jax
import jax.numpy as jnp
from flax import nnx

from genesys_jax.gau import GAUBase, param


def _same(variable, *args, **kwargs):
  return variable  # the differentiability stage's `var.replace(var[...] + 1.0)` changes nothing


class HiddenBlock(GAUBase):
  """A blocked-gradient projection that should be rejected; the patch makes it look merely unused."""

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim, embed_dim), ("embed", "embed"), residual=True)
    (variable_cls,) = (nnx.Variable,)  # a local alias: the store below is not on an imported name
    variable_cls.replace = _same

  def _forward(self, X):
    return X + X @ jax.lax.stop_gradient(self.w[...])


ROOT = HiddenBlock
