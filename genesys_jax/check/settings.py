"""The `check` section of a config: the checker's sizes and the sandbox's limits."""

from __future__ import annotations

import dataclasses

import ml_collections

from genesys_jax.check.dynamic import CheckSettings
from genesys_jax.check.sandbox import Limits
from genesys_jax.gau.scales import SCALES


def check_config() -> ml_collections.ConfigDict:
  """The checker's defaults (`CheckSettings`) plus the sandbox's wall-clock limit."""
  c = ml_collections.ConfigDict({k: v for k, v in dataclasses.asdict(CheckSettings()).items()
                                 if k != "family"})  # per design, set by the evolution
  c.timeout_s = Limits.timeout_s
  c.allow_unisolated = Limits.allow_unisolated
  return c


def settings_of(c: ml_collections.ConfigDict) -> tuple[CheckSettings, Limits]:
  """The checker settings and sandbox limits a `check` section describes; ValueError when out of range."""
  if c.scale not in SCALES:
    raise ValueError(f"unknown check.scale {c.scale!r}; choose from {list(SCALES)}")
  if c.timeout_s <= 0:
    raise ValueError("check.timeout_s must be positive")
  fields = {f.name for f in dataclasses.fields(CheckSettings)}
  return (CheckSettings(**{k: v for k, v in c.items() if k in fields}),
          Limits(timeout_s=c.timeout_s, allow_unisolated=c.allow_unisolated))
