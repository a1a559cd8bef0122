"""The metrics a verification reports, as leaderboard columns: how to read each, which way is better,
and the untrained model's score or chance to compare it with."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

Results = Mapping[str, Any]

_SPLITS = (("validation", "val"), ("test", "test"))
_LM_METRICS = (("bits_per_byte", "bpb", True), ("loss", "loss", True), ("accuracy", "acc", False))


@dataclasses.dataclass(frozen=True)
class Metric:
  """One column: `path` into the results, e.g. ("eval", "validation", "loss"); `reference` the path of the
  value to compare with (untrained model or chance) and `reference_name` what it is."""

  label: str
  title: str
  path: tuple[str, ...]
  lower_is_better: bool
  reference: tuple[str, ...] | None = None
  reference_name: str = ""

  def value(self, results: Results) -> float | None:
    return _lookup(results, self.path)

  def baseline(self, results: Results) -> float | None:
    return _lookup(results, self.reference) if self.reference else None

  def better(self, a: float, b: float) -> bool:
    """Whether `a` beats `b`."""
    return a < b if self.lower_is_better else a > b


VALIDATION_BPB = Metric("val bpb", "validation bits per byte", ("eval", "validation", "bits_per_byte"), True,
                        ("random_init", "validation", "bits_per_byte"), "untrained")
"""What the leaderboards sort by and the headline compares."""


def _lookup(results: Results, path: tuple[str, ...]) -> float | None:
  node: Any = results
  for key in path:
    if not isinstance(node, Mapping) or key not in node:
      return None
    node = node[key]
  return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def metrics_of(all_results: Iterable[Results]) -> list[Metric]:
  """The columns for these verifications: LM metrics per split, then each task and diagnostic present."""
  all_results = list(all_results)
  out = []
  for split, short in _SPLITS:
    for key, label, lower in _LM_METRICS:
      out.append(Metric(f"{short} {label}", f"{split} {key.replace('_', ' ')}", ("eval", split, key), lower,
                        ("random_init", split, key), "untrained"))
  tasks = sorted({t for r in all_results for t in (r.get("eval") or {}).get("tasks", {})})
  for task in tasks:
    untrained = any(task in (r.get("random_init") or {}).get("tasks", {}) for r in all_results)
    for key in ("acc", "acc_norm"):
      reference = ("random_init", "tasks", task, key) if untrained else ("eval", "tasks", task, "chance")
      out.append(Metric(f"{task} {key}", f"task {task}: {key.replace('_', ' ')}", ("eval", "tasks", task, key),
                        False, reference, "untrained" if untrained else "chance"))
  diags = sorted({t for r in all_results for t in ((r.get("diagnostics") or {}).get("tasks") or {})})
  for task in diags:
    out.append(Metric(f"diag {task}", f"diagnostic {task}: accuracy", ("diagnostics", "tasks", task, "accuracy"),
                      False, ("diagnostics", "tasks", task, "chance"), "chance"))
  return [m for m in out if any(m.value(r) is not None for r in all_results)]
