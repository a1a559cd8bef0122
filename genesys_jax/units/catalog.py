"""What each library unit is for: its kind, its slots' kinds, hyperparameter choices (catalog.json)."""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import inspect
import json
from collections.abc import Mapping
from typing import Any

ACCEPTS: dict[str, tuple[str, ...]] = {"block": ("block",), "norm": ("norm",), "mixer": ("mixer",),
                                       "channel": ("channel", "mixer")}
"""Unit kinds a slot of each kind accepts."""


@dataclasses.dataclass(frozen=True)
class UnitInfo:
  """A catalogued library unit."""

  name: str
  kind: str
  summary: str
  slots: Mapping[str, str] = dataclasses.field(default_factory=dict)
  hparams: Mapping[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)
  wrapper: str | None = None  # the slot holding the wrapped unit, for units that wrap another


@functools.cache
def catalog() -> dict[str, UnitInfo]:
  """Every catalogued library unit by name."""
  raw = json.loads(importlib.resources.files("genesys_jax.units").joinpath("catalog.json").read_text())
  return {name: UnitInfo(name, u["kind"], u["summary"], u.get("slots", {}),
                         {k: tuple(v) for k, v in u.get("hparams", {}).items()}, u.get("wrapper"))
          for name, u in raw["units"].items()}


def units_of_kind(*kinds: str) -> list[str]:
  """Catalogued units of any of `kinds`, in catalog order."""
  return [n for n, u in catalog().items() if u.kind in kinds]


@functools.cache
def default_hparams(unit: str) -> dict[str, Any]:
  """The keyword defaults of a library unit's constructor."""
  from genesys_jax.units.library import unit_class  # pylint: disable=import-outside-toplevel
  params = inspect.signature(unit_class(unit).__init__).parameters.values()
  return {p.name: p.default for p in params if p.kind == p.KEYWORD_ONLY and p.default is not p.empty}
