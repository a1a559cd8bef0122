"""What LLM calls cost: per-model prices and a thread-safe ledger of tokens and dollars by role, design and run."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import threading
from collections.abc import Iterable, Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class Price:
  """US dollars per million input (prompt) and output (answer, thinking included) tokens."""

  input_per_million: float
  output_per_million: float

  def cost(self, input_tokens: int, output_tokens: int) -> float:
    """Dollars for one call's tokens."""
    return (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1e6


def prices_from(table: Mapping[str, Mapping[str, float]]) -> dict[str, Price]:
  """Prices from a `{model: {"input_per_million": x, "output_per_million": y}}` table (JSON or config)."""
  return {model: Price(float(entry["input_per_million"]), float(entry["output_per_million"]))
          for model, entry in table.items()}


PRICES: dict[str, Price] = prices_from(
    json.loads(pathlib.Path(__file__).with_name("prices.json").read_text())["models"])


@dataclasses.dataclass(frozen=True)
class Usage:
  """Calls, failed calls, tokens and dollars summed over some set of calls."""

  calls: int = 0
  failures: int = 0
  input_tokens: int = 0
  output_tokens: int = 0
  cost_usd: float = 0.0

  def plus(self, other: Usage) -> Usage:
    """The sum of two usages."""
    return Usage(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))


class Ledger:
  """Accumulates usage for the whole run, per role and per design; safe to share between threads."""

  def __init__(self) -> None:
    self._lock = threading.Lock()
    self._total = Usage()
    self._by_role: dict[str, Usage] = {}
    self._by_design: dict[str, Usage] = {}

  @classmethod
  def of_calls(cls, calls: Iterable[Mapping[str, Any]]) -> Ledger:
    """A ledger charged with recorded calls (CallRecord JSON, or the store's rows of them)."""
    ledger = cls()
    for c in calls:
      ledger.add(c["role"], c.get("design_id"), Usage(calls=1, failures=int(not c["ok"]), input_tokens=c["input_tokens"],
                                                      output_tokens=c["output_tokens"], cost_usd=c["cost_usd"]))
    return ledger

  def add(self, role: str, design_id: str | None, usage: Usage) -> None:
    """Charges one call (or any usage) to the run, its role and, when given, its design."""
    with self._lock:
      self._total = self._total.plus(usage)
      self._by_role[role] = self._by_role.get(role, Usage()).plus(usage)
      if design_id is not None:
        self._by_design[design_id] = self._by_design.get(design_id, Usage()).plus(usage)

  def total(self) -> Usage:
    """Usage of the whole run."""
    with self._lock:
      return self._total

  def by_role(self) -> dict[str, Usage]:
    """Usage per role (a copy)."""
    with self._lock:
      return dict(self._by_role)

  def by_design(self) -> dict[str, Usage]:
    """Usage per design id (a copy)."""
    with self._lock:
      return dict(self._by_design)

  def over_budget(self, cap_usd: float) -> bool:
    """Whether the run has spent more than `cap_usd` dollars."""
    return self.total().cost_usd > cap_usd
