"""Everything a report shows about a run, read once from its store and directory into plain values."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import pathlib
import time
from collections.abc import Callable
from typing import Any

import ml_collections

from genesys_jax.evolve import fitness
from genesys_jax.evolve.records import DesignView, design_views
from genesys_jax.evolve.settings import budgets, evolve_config
from genesys_jax.evolve.store_rows import DesignRow, VerificationRow
from genesys_jax.evolve.store import RUN_LEASE, EvolutionStore

MUTED_STATUSES = ("rejected", "duplicate", "failed")
"""Designs that never produced a result: shown greyed out."""


@dataclasses.dataclass(frozen=True)
class Run:
  """A run as the report reads it. Rungs are lowest first; times are Unix seconds."""

  workdir: pathlib.Path
  rows: list[DesignRow]
  trees: dict[int, dict[str, Any]]      # design id -> its manifest (design.json)
  verifications: list[VerificationRow]
  sessions: list[dict[str, Any]]        # store.sessions(), each with its "events"
  events: list[dict[str, Any]]
  queued: set[tuple[int, str]]          # (design id, rung) verifications pending or running
  rungs: tuple[str, ...]
  budget: dict[str, int]
  min_margin: float
  draw_margin: float
  designer: str
  state: str                            # finished | running | stopped
  generated: float

  @functools.cached_property
  def by_id(self) -> dict[int, DesignRow]:
    return {r.id: r for r in self.rows}

  @functools.cached_property
  def seeds(self) -> list[DesignRow]:
    return [r for r in self.rows if r.seed]

  @functools.cached_property
  def results(self) -> dict[int, dict[str, VerificationRow]]:
    """Design id -> rung -> its verification (any status)."""
    out: dict[int, dict[str, VerificationRow]] = {}
    for v in self.verifications:
      out.setdefault(v.design_id, {})[v.rung] = v
    return out

  @functools.cached_property
  def _completed(self) -> dict[int, dict[str, dict[str, Any]]]:
    return {i: {rung: done[rung].results for rung in self.rungs if rung in done and done[rung].status == "completed"}
            for i, done in self.results.items()}

  @functools.cached_property
  def views(self) -> list[DesignView]:
    return design_views(self.rows, self.verifications)

  @functools.cached_property
  def ranking(self) -> fitness.Ranking:
    return fitness.rank_designs(self.views, self.min_margin, self.draw_margin)

  @functools.cached_property
  def children(self) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for r in self.rows:
      for p in r.parents:
        out.setdefault(p, []).append(r.id)
    return out

  @functools.cached_property
  def session_of(self) -> dict[int, dict[str, Any]]:
    """Design id -> the session that produced it."""
    return {s["design_id"]: s for s in self.sessions if s["design_id"] is not None}

  @property
  def start(self) -> float:
    """When the run started: its first event, else its first design."""
    times = [e["time"] for e in self.events[:1]] + [r.created for r in self.rows[:1]]
    return min(times, default=self.generated)

  def rating(self, design_id: int) -> float | None:
    """The design's fitness (Massey rating), or None when it has no completed verification."""
    return self.ranking.rating.get(design_id) if self.completed(design_id) else None

  @functools.cached_property
  def verified_ratings(self) -> list[float]:
    """The fitness of every verified design, best first."""
    return sorted((r for r in (self.rating(row.id) for row in self.rows) if r is not None), reverse=True)

  def place(self, design_id: int) -> tuple[int, int] | None:
    """(position by fitness, 1 = best, and how many) among the verified designs; None when not verified."""
    rating = self.rating(design_id)
    if rating is None:
      return None
    better = sum(1 for r in itertools.takewhile(lambda r: r > rating + 1e-9, self.verified_ratings))
    return 1 + better, len(self.verified_ratings)

  def completed(self, design_id: int) -> dict[str, dict[str, Any]]:
    """Rung -> results of the design's completed verifications, lowest rung first."""
    return self._completed.get(design_id, {})

  def highest_rung(self, design_id: int) -> int | None:
    """Index in `rungs` of the highest rung the design completed, or None."""
    done = self.completed(design_id)
    return max((self.rungs.index(r) for r in done), default=None)

  def status(self, design_id: int) -> str:
    """seed | implemented | rejected | duplicate | failed (every verification ended without results)."""
    row = self.by_id[design_id]
    if row.status != "implemented":
      return row.status
    tried = self.results.get(design_id, {})
    if tried and not self.completed(design_id) and not any((design_id, r) in self.queued for r in self.rungs):
      return "failed"
    return "seed" if row.seed else "implemented"

  def muted(self, design_id: int) -> bool:
    return self.status(design_id) in MUTED_STATUSES

  def best_seed(self, rung: str, value: Callable[[dict[str, Any]], float | None],
                lower_is_better: bool) -> tuple[str, float] | None:
    """(name, value) of the seed best at `rung` by `value(results)`, among seeds where it is not None."""
    scored = [(value(self.completed(r.id)[rung]), r.name) for r in self.seeds if rung in self.completed(r.id)]
    scored = [(v, name) for v, name in scored if v is not None]
    if not scored:
      return None
    v, name = (min if lower_is_better else max)(scored)
    return name, v


def _state(store: EvolutionStore) -> str:
  if store.get_meta("finished"):
    return "finished"
  lease = store.get_meta(RUN_LEASE)
  return "running" if lease and lease.get("expires", 0) > store.now() else "stopped"


def load_run(store: EvolutionStore, workdir: pathlib.Path) -> Run:
  """Reads the run in `workdir` from `store` (reads only; designs first, so every result has its design)."""
  now = time.time()
  rows = store.designs()
  config = store.get_meta("config") or {}
  e = ml_collections.ConfigDict(config["evolve"]) if "evolve" in config else evolve_config()
  verifications = store.verifications()
  rungs = tuple(e.rungs) + tuple(dict.fromkeys(v.rung for v in verifications if v.rung not in e.rungs))
  budget = budgets(e)
  budget.update({rung: 0 for rung in rungs if rung not in budget})
  return Run(workdir=workdir, rows=rows, trees={r.id: store.tree(r.id) for r in rows}, verifications=verifications,
             sessions=[{**s, "events": store.session_events(s["id"])} for s in store.sessions()],
             events=store.events(),
             queued={(j.payload["design_id"], j.payload["rung"]) for j in store.jobs("verify", ("pending", "leased"))},
             rungs=rungs, budget=budget, min_margin=e.selection.min_margin, draw_margin=e.selection.draw_margin,
             designer=config.get("agents", {}).get("designer", "unknown"),
             state=_state(store), generated=now)


def read_history(workdir: pathlib.Path, run_dir: str) -> list[tuple[int, float]]:
  """(step, training loss) from a verification's history.jsonl; the last record of a step wins (resumes)."""
  path = workdir / run_dir / "history.jsonl"
  if not run_dir or not path.is_file():
    return []
  losses: dict[int, float] = {}
  for line in path.read_text().splitlines():
    try:
      record = json.loads(line)
    except json.JSONDecodeError:  # a line being written right now
      continue
    if isinstance(record.get("loss"), (int, float)):
      losses[int(record["step"])] = float(record["loss"])
  return sorted(losses.items())


def tensorboard_dir(run_dir: str) -> str:
  """A verification's TensorBoard folder, relative to the run directory."""
  return f"{run_dir}/tensorboard"
