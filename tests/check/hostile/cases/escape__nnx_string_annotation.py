"""A string annotation on an nnx.Module helper is eval'd by flax's get_type_hints when the class is created."""
import jax.numpy as jnp
from flax import nnx

from genesys_jax.gau import GAUBase, param


class Gate(nnx.Module):
  """A learned scalar gate (a helper layer, not a unit)."""

  scale: "__import__('os').system('touch /tmp/genesys_marker_should_not_exist') or float"

  def __init__(self, rngs):
    self.scale = nnx.Param(jnp.ones(()))

  def __call__(self, x):
    return x * self.scale[...]


class AnnotatedGate(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.gate = Gate(rngs)
    self.w = param(rngs, (embed_dim, embed_dim), ("embed", "embed"), residual=True)

  def _forward(self, X):
    return X + self.gate(X @ self.w[...])


ROOT = AnnotatedGate
