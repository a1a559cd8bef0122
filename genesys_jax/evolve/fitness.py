"""Fitness: metrics per verification, a pairwise Massey ranking of designs, confidence and quadrants.

Designs play games only against designs verified at the same rung, since scores from different model
sizes are not comparable. Each usable metric at each rung is one game per pair, scored by the margin
(not just who won), divided by that metric's spread at that rung so that no metric dominates by its
units. A least-squares rating over all games is fair to designs verified a different number of times.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genesys_jax.evolve.records import DesignView

Metrics = dict[str, tuple[float, float]]
"""Metric name -> (value, random-model baseline); higher is better."""

_TIE = 1e-9  # ratings closer than this share a rank


def design_metrics(results: Mapping[str, Any]) -> Metrics:
  """Each metric of one verification as (value, random baseline); metrics with no value are skipped.

  val_bpb is negated bits per byte; task/<name> is acc_norm (else acc) against the untrained model's
  score on the same task (else the task's chance); diag/<name> is the diagnostic accuracy against the
  larger of the untrained accuracy and chance.
  """
  out: Metrics = {}
  trained, untrained = results.get("eval", {}), results.get("random_init", {})
  val, val0 = trained.get("validation", {}), untrained.get("validation", {})
  if val.get("bits_per_byte") is not None and val0.get("bits_per_byte") is not None:
    out["val_bpb"] = (-val["bits_per_byte"], -val0["bits_per_byte"])
  if val.get("accuracy") is not None and val0.get("accuracy") is not None:
    out["val_accuracy"] = (val["accuracy"], val0["accuracy"])
  for name, m in trained.get("tasks", {}).items():
    value = _task_score(m)
    baseline = _task_score(untrained.get("tasks", {}).get(name, {}))
    if value is not None:
      out[f"task/{name}"] = (value, baseline if baseline is not None else m["chance"])
  for name, m in (results.get("diagnostics") or {}).get("tasks", {}).items():
    if m.get("accuracy") is not None:
      out[f"diag/{name}"] = (m["accuracy"], max(m["random_init"], m["chance"]))
  return out


def _task_score(m: Mapping[str, Any]) -> float | None:
  return m["acc_norm"] if m.get("acc_norm") is not None else m.get("acc")


def usable_metrics(per_rung_metrics: Mapping[str, Mapping[int, Metrics]], min_margin: float) -> set[str]:
  """Metrics on which some design beats its random baseline by at least `min_margin` (absolute).

  `per_rung_metrics` maps rung -> design id -> metrics; `rank_designs` passes one rung at a time.
  """
  return {name for by_design in per_rung_metrics.values() for metrics in by_design.values()
          for name, (value, baseline) in metrics.items() if value - baseline >= min_margin}


@dataclasses.dataclass(frozen=True)
class Ranking:
  """Per design id: Massey rating, rank (0 = best; equal ratings share a rank), percentile (1 = best)."""

  rating: dict[int, float]
  rank: dict[int, int]
  percentile: dict[int, float]

  @classmethod
  def from_ratings(cls, ratings: Mapping[int, float]) -> Ranking:
    """Ranks `ratings` (higher is better)."""
    values = list(ratings.values())
    rank = {i: sum(other > r + _TIE for other in values) for i, r in ratings.items()}
    worst = max(len(values) - 1, 1)
    return cls(dict(ratings), rank, {i: 1.0 - k / worst for i, k in rank.items()})


def solve_massey(m: np.ndarray, p: np.ndarray) -> np.ndarray:
  """Ratings r with M r = p and sum(r) = 0, by least squares.

  M is the Massey matrix (games played on the diagonal, minus games between i and j off it) and p each
  team's summed point differential. Each connected group of teams sums to zero; a team with no games
  rates 0.
  """
  n = len(p)
  system = np.vstack([m, np.ones((1, n))])
  return np.linalg.lstsq(system, np.append(p, 0.0), rcond=None)[0]


def rank_designs(designs: Sequence[DesignView], min_margin: float, draw_margin: float) -> Ranking:
  """The Massey ranking of `designs` over their verifications (unverified designs rate 0)."""
  index = {d.id: k for k, d in enumerate(designs)}
  per_rung: dict[str, dict[int, Metrics]] = {}
  for d in designs:
    for rung, results in d.results.items():
      per_rung.setdefault(rung, {})[d.id] = design_metrics(results)
  m, p = np.zeros((len(designs), len(designs))), np.zeros(len(designs))
  for rung, by_design in per_rung.items():
    for name in sorted(usable_metrics({rung: by_design}, min_margin)):
      players = [(index[i], metrics[name][0]) for i, metrics in by_design.items() if name in metrics]
      idx = np.array([k for k, _ in players])
      values = np.array([v for _, v in players])
      if len(idx) < 2 or np.ptp(values) == 0:
        continue
      diff = values[:, None] - values[None, :]
      diff[np.abs(diff) < draw_margin] = 0.0
      p[idx] += diff.sum(axis=1) / values.std()
      m[np.ix_(idx, idx)] -= 1.0
      m[idx, idx] += len(idx)
  ratings = solve_massey(m, p)
  return Ranking.from_ratings({d.id: float(ratings[index[d.id]]) for d in designs})


def fitness(design: DesignView, ranking: Ranking) -> float:
  """The design's Massey rating: its average margin per game over a rating-0 design, in units of each
  metric's spread at the rung played; 0 is average, higher is better."""
  return ranking.rating.get(design.id, 0.0)


def confidence(design: DesignView, rungs: Sequence[str]) -> int:
  """1 for proposed + 1 for implemented + (index + 1) for each rung of `rungs` (lowest first) verified."""
  return 2 + sum(k + 1 for k, rung in enumerate(rungs) if rung in design.results)


def quadrants(ranking: Ranking, confidences: Mapping[int, int], fraction: float) -> dict[int, str]:
  """Quadrant of each design of `confidences`: the top `fraction` by rank is good, by confidence high.

  Designs tied with the last one inside the top fraction count as top too.
  """
  ids = list(confidences)
  if not ids:
    return {}
  k = max(1, math.ceil(fraction * len(ids) - 1e-9))
  rank_cut = sorted(ranking.rank[i] for i in ids)[k - 1]
  confidence_cut = sorted((confidences[i] for i in ids), reverse=True)[k - 1]
  good = {i: ranking.rank[i] <= rank_cut for i in ids}
  high = {i: confidences[i] >= confidence_cut for i in ids}
  return {i: ("good" if good[i] else "poor") + ("_high" if high[i] else "_low") for i in ids}
