"""The five seed designs, each a tree of library units under a pre-norm residual block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genesys_jax.gau.design import Design, Lineage, UnitSpec
from genesys_jax.gau.errors import DesignError
from genesys_jax.units.library import UNIT_FILES, unit_source

_NORMS = {"norm1": "RMSNorm", "norm2": "RMSNorm"}

SEED_TREES: dict[str, dict[str, dict[str, str]]] = {
    "gpt2": {"PreNormBlock": {**_NORMS, "mixer": "MHA", "mlp": "GatedMLP"}},
    # Two Mamba2 layers per block, as in the reference: a block of Mamba2 has no MLP.
    "mamba2": {"PreNormBlock": {**_NORMS, "mixer": "Mamba2Mixer", "mlp": "Mamba2Mixer"}},
    "retnet": {"PreNormBlock": {**_NORMS, "mixer": "MultiScaleRetention", "mlp": "GatedMLP"}},
    "rwkv6": {"PreNormBlock": {**_NORMS, "mixer": "RWKV6TimeMix", "mlp": "RWKV6ChannelMix"}},
    "ttt": {"PreNormBlock": {**_NORMS, "mixer": "TTTLinear", "mlp": "GatedMLP"}},
}
SEED_NAMES = tuple(SEED_TREES)


def library_design(name: str, root: str, children: Mapping[str, Mapping[str, str]],
                   hparams: Mapping[str, Mapping[str, Any]] | None = None,
                   lineage: Lineage = Lineage()) -> Design:
  """A design whose units all come from the library; `children` gives each parent's slot fillers."""
  units: dict[str, UnitSpec] = {}
  pending = [root]
  while pending:
    unit = pending.pop()
    if unit in units:
      continue
    slots = dict(children.get(unit, {}))
    units[unit] = UnitSpec(file=UNIT_FILES.get(unit, f"{unit}.py"), children=slots,
                           hparams=dict((hparams or {}).get(unit, {})))
    pending.extend(slots.values())
  files = {spec.file: unit_source(u) for u, spec in units.items()}
  return Design(name=name, root=root, units=units, files=files, lineage=lineage)


def seed_design(name: str) -> Design:
  """One of the five seeds by name: gpt2, mamba2, retnet, rwkv6, ttt."""
  if name not in SEED_TREES:
    raise DesignError(f"no seed named {name!r}; seeds are {list(SEED_NAMES)}")
  return library_design(name, "PreNormBlock", SEED_TREES[name])


def vanilla_gpt() -> Design:
  """The GPT seed with plain attention (one masked score matrix): the reference the checker measures
  time, memory and FLOPs against, a vanilla Transformer as in the paper rather than the tuned seed."""
  return library_design("gpt2-vanilla", "PreNormBlock", SEED_TREES["gpt2"], {"MHA": {"blocked": False}})
