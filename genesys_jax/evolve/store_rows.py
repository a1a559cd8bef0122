"""The evolution store's rows as values: what is read from it and what is handed to it to record."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Job:
  id: int
  kind: str
  key: str
  payload: dict[str, Any]
  attempts: int


@dataclasses.dataclass(frozen=True)
class DesignRow:
  id: int
  name: str
  content_hash: str
  fingerprint: str | None
  seed: bool
  operator: str | None
  status: str
  path: str
  parents: tuple[int, ...]
  rationale: str
  changed_units: tuple[str, ...]
  created: float


@dataclasses.dataclass(frozen=True)
class VerificationRow:
  design_id: int
  rung: str
  status: str
  results: dict[str, Any]
  run_dir: str
  seconds: float
  created: float


@dataclasses.dataclass(frozen=True)
class NewDesign:
  """A design to record: its row fields and where its directory was written."""

  name: str
  content_hash: str
  tree: dict[str, Any]
  path: str
  seed: bool = False
  operator: str | None = None
  parents: tuple[int, ...] = ()
  fingerprint: str | None = None
  rationale: str = ""
  changed_units: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class SessionRecord:
  """A finished design session: what it produced, the check of its design and every LLM call."""

  designer: str
  operator: str
  ok: bool
  reason: str
  seconds: float
  cost_usd: float = 0.0
  events: tuple[dict[str, Any], ...] = ()
  check: dict[str, Any] | None = None   # the checker's report (CheckReport.to_json())
