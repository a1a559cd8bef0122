"""Whether a run directory's recorded config and the one given now describe the same run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RUN_INDEPENDENT = ("evolve.workers.", "evolve.store_url")
"""Fields that may change between sessions of one run (how many workers, how often to print), or that
are checked against the run directory itself (where its store is: store_location.py)."""


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
  out: dict[str, Any] = {}
  for key, value in tree.items():
    if isinstance(value, Mapping):
      out.update(_flat(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def config_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
  """'field: recorded -> current' for every run-defining field that differs (JSON-like dicts)."""
  old, new = _flat(recorded), _flat(current)
  keys = sorted(k for k in old.keys() | new.keys() if not k.startswith(RUN_INDEPENDENT))
  return [f"{k}: {old.get(k, '(absent)')!r} -> {new.get(k, '(absent)')!r}" for k in keys if old.get(k) != new.get(k)]
