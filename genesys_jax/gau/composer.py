"""The composer: a design -> a Flax NNX language model.

Token embedding, `n_layers` blocks (each the design's root unit with its subtree), a final RMSNorm and
an LM head tied to the embedding. The vocabulary is padded to a multiple of 8; logits are returned for
the true vocabulary only. Init follows Mamba: embeddings ~ N(0, 0.02), and every parameter a unit marks
`residual` is scaled by 1/sqrt(n_layers). `Z` is threaded through all blocks.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from genesys_jax.gau import ops
from genesys_jax.gau.design import Design, MaterializedDesign
from genesys_jax.gau.layers import constant, param
from genesys_jax.gau.scales import Scale, padded_vocab


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """The size of a composed model."""

  embed_dim: int
  n_layers: int
  vocab_size: int

  @classmethod
  def from_scale(cls, scale: Scale) -> ModelConfig:
    return cls(scale.embed_dim, scale.n_layers, scale.vocab_size)


class LanguageModel(nnx.Module):
  """A causal LM whose blocks are the design's root unit."""

  def __init__(self, design: MaterializedDesign, config: ModelConfig, *, rngs: nnx.Rngs):
    self.config = config
    d, n = config.embed_dim, config.n_layers
    self.embed = param(rngs, (padded_vocab(config.vocab_size), d), ("vocab", "embed"))
    self.blocks = nnx.List([design.build_block(d, (i, n), rngs) for i in range(n)])
    self.final_norm = param(rngs, (d,), ("embed",), constant(1.0))
    for _, node in nnx.iter_graph(self.blocks):
      if isinstance(node, nnx.Param) and node.get_metadata().get("residual"):
        node[...] = node[...] / math.sqrt(n)

  def __call__(self, tokens_BxL: jax.Array, at_BxK: jax.Array | None = None) -> jax.Array:
    """Logits at every position, or only at positions `at_BxK` of each row (the head is the costly part
    when a task scores a few positions of a large vocabulary)."""
    X = jnp.take(self.embed[...], tokens_BxL, axis=0)
    Z: dict = {}
    for block in self.blocks:
      X, Z = block(X, **Z)
    if at_BxK is not None:
      X = jnp.take_along_axis(X, at_BxK[..., None], axis=1)
    X = ops.rms_norm(X, self.final_norm[...])
    logits_BxLxV = jnp.einsum("bld,vd->blv", X, self.embed[...])
    return logits_BxLxV[..., :self.config.vocab_size]


def compose(design: Design | MaterializedDesign, config: ModelConfig, seed: int = 0) -> LanguageModel:
  """Builds the language model for `design` at `config`."""
  md = design.materialize() if isinstance(design, Design) else design
  return LanguageModel(md, config, rngs=nnx.Rngs(seed))


def abstract_model(design: Design | MaterializedDesign, config: ModelConfig) -> LanguageModel:
  """The model with shapes only (no allocation), via `nnx.eval_shape`."""
  md = design.materialize() if isinstance(design, Design) else design
  return nnx.eval_shape(lambda: LanguageModel(md, config, rngs=nnx.Rngs(0)))
