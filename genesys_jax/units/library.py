"""The library of known units: unit name -> the file in this package that defines it."""

from __future__ import annotations

import functools
import importlib
import importlib.resources
from collections.abc import Mapping

from genesys_jax.gau.errors import DesignError

UNIT_FILES: dict[str, str] = {
    "PreNormBlock": "prenorm_block.py",
    "RMSNorm": "rmsnorm.py",
    "MHA": "mha.py",
    "GatedMLP": "gated_mlp.py",
    "Mamba2Mixer": "mamba2.py",
    "MultiScaleRetention": "retention.py",
    "RWKV6TimeMix": "rwkv6.py",
    "RWKV6ChannelMix": "rwkv6_channel_mix.py",
    "TTTLinear": "ttt_linear.py",
    "LinearAttention": "linear_attention.py",
    "ShortConv": "short_conv.py",
    "ParallelBlock": "parallel_block.py",
    "ConvPreMixer": "conv_pre_mixer.py",
    "GatedMixer": "gated_mixer.py",
}


def unit_source(unit: str) -> str:
  """The source code of a library unit's file."""
  if unit not in UNIT_FILES:
    raise DesignError(f"no library unit named {unit!r}; known units: {sorted(UNIT_FILES)}")
  return importlib.resources.files("genesys_jax.units").joinpath(UNIT_FILES[unit]).read_text()


def unit_class(unit: str) -> type:
  """The class of a library unit (importing its module)."""
  if unit not in UNIT_FILES:
    raise DesignError(f"no library unit named {unit!r}; known units: {sorted(UNIT_FILES)}")
  return getattr(importlib.import_module(f"genesys_jax.units.{UNIT_FILES[unit].removesuffix('.py')}"), unit)


def default_children(unit: str) -> dict[str, str]:
  """A library unit's slots and the unit each is filled with by default (its CHILDREN declarations)."""
  return {c.slot: c.unit for c in unit_class(unit).CHILDREN}


@functools.cache
def library_sources() -> frozenset[str]:
  """The source of every library unit file (read once)."""
  return frozenset(unit_source(u) for u in UNIT_FILES)


def is_library_code(files: Mapping[str, str]) -> bool:
  """Whether every source in `files` (name -> source) is a library unit's own (our code, not an agent's)."""
  return all(src in library_sources() for src in files.values())
