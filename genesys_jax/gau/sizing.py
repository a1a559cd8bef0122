"""Exact parameter counting (abstract, no allocation) and auto-sizing to a rung's GPT reference size."""

from __future__ import annotations

import dataclasses
import functools

import jax
from flax import nnx

from genesys_jax.gau.composer import ModelConfig, abstract_model
from genesys_jax.gau.design import Design, MaterializedDesign
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import Scale

WIDTH_FACTORS = (1.0, 0.875, 1.125, 0.75, 1.25, 0.625, 1.5, 0.5, 1.75, 2.0)
"""Widths auto-sizing tries, as fractions of the rung's width, in order of preference."""


def count_params(design: Design | MaterializedDesign, config: ModelConfig) -> int:
  """The exact number of parameters of the composed model, computed with `jax.eval_shape`."""
  model = abstract_model(design, config)
  return sum(leaf.size for leaf in jax.tree.leaves(nnx.state(model, nnx.Param)))


BAND_TOLERANCE = 0.2
"""How far from the reference a sized design may be (the checker's parameter band)."""


@functools.cache
def reference_params(scale: Scale) -> int:
  """Parameters of the GPT reference (the GPT2 seed) at the rung's width, depth and vocabulary."""
  from genesys_jax.units.seeds import seed_design  # the reference is defined by the seed
  return count_params(seed_design("gpt2"), ModelConfig.from_scale(scale))


@dataclasses.dataclass(frozen=True)
class SizedModel:
  """The result of auto-sizing: the chosen shape, its parameters and the reference it was sized to."""

  config: ModelConfig
  params: int
  reference: int

  @property
  def ratio(self) -> float:
    return self.params / self.reference


def candidate_widths(scale: Scale) -> list[int]:
  """The widths auto-sizing tries at `scale`, in order of preference (multiples of its width_multiple)."""
  widths: list[int] = []
  for factor in WIDTH_FACTORS:
    w = max(scale.width_multiple, round(scale.embed_dim * factor / scale.width_multiple) * scale.width_multiple)
    if w not in widths:
      widths.append(w)
  return widths


def autosize(design: Design | MaterializedDesign, scale: Scale, tolerance: float = BAND_TOLERANCE,
             max_layer_factor: int = 4) -> SizedModel:
  """Chooses layers (first) and width (if needed) so parameters are within +-tolerance of the reference.

  For each candidate width, parameters are affine in the number of layers (counted at 1 and 2 layers),
  which gives the best depth directly; the chosen shape is then counted exactly.
  """
  md = design.materialize() if isinstance(design, Design) else design
  target = reference_params(scale)
  widths = candidate_widths(scale)
  max_layers = max_layer_factor * scale.n_layers
  tried = []
  for width in widths:
    try:
      one = count_params(md, ModelConfig(width, 1, scale.vocab_size))
      two = count_params(md, ModelConfig(width, 2, scale.vocab_size))
    except DesignError as e:
      tried.append(f"width {width}: {e}")
      continue
    per_layer, base = two - one, 2 * one - two
    layers = scale.n_layers if per_layer <= 0 else round((target - base) / per_layer)
    layers = min(max(layers, 1), max_layers)
    config = ModelConfig(width, layers, scale.vocab_size)
    params = count_params(md, config)
    if abs(params / target - 1) <= tolerance:
      return SizedModel(config, params, target)
    tried.append(f"width {width} x {layers} layers: {params:,} params")
  raise DesignError(f"cannot size to {target:,} +-{tolerance:.0%} parameters at scale {scale.name}; "
                    f"tried {'; '.join(tried)}", design=md.design.name)


def tree_params(design: Design | MaterializedDesign, embed_dim: int) -> dict[str, int]:
  """Parameters of one block at `embed_dim` under each position of the unit tree: `""` is the root,
  `"mixer"` its child in slot `mixer`, `"mixer.inner"` that one's child (a unit keeps a child in the
  attribute named like its slot, as `make_child` is used)."""
  md = design.materialize() if isinstance(design, Design) else design
  block = nnx.eval_shape(lambda: md.build_block(embed_dim, (0, 1), nnx.Rngs(0)))
  counts: dict[str, int] = {}
  for path, leaf in nnx.to_flat_state(nnx.state(block, nnx.Param)):
    names = [str(p) for p in path[:-1]]
    for k in range(len(names) + 1):
      key = ".".join(names[:k])
      counts[key] = counts.get(key, 0) + leaf.size
  return counts
