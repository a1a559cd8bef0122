"""What a person watching a run sees: a compact status line, and the summary at the end."""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter

import ml_collections

from genesys_jax.evolve.fitness import Ranking
from genesys_jax.evolve.records import DesignView
from genesys_jax.evolve.store_rows import DesignRow, Job, VerificationRow


@dataclasses.dataclass(frozen=True)
class Snapshot:
  """The run's state at one moment, as read from the store."""

  rows: list[DesignRow]
  verifications: list[VerificationRow]
  views: list[DesignView]
  ranking: Ranking
  verify_jobs: list[Job]
  design_inflight: int
  sessions: int               # design jobs queued so far (finished or not)
  sessions_finished: int
  implemented_new: int
  spend_usd: float
  design_closed: bool
  idle: bool


def _clock(seconds: float) -> str:
  m, s = divmod(int(seconds), 60)
  return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m{s:02d}s"


def best_designs(s: Snapshot, n: int = 3) -> list[DesignView]:
  """The `n` best non-seed designs by fitness (those verified at least once)."""
  verified = [v for v in s.views if v.results and not v.seed]
  return sorted(verified, key=lambda v: -s.ranking.rating.get(v.id, 0.0))[:n]


def status_line(s: Snapshot, budget: dict[str, int], e: ml_collections.ConfigDict, elapsed: float) -> str:
  """One line: designs, verifications per rung against the budget, best fitness, LLM spend, ETA."""
  seeds = {r.id for r in s.rows if r.seed}
  status = Counter(r.status for r in s.rows if not r.seed)
  rejected = sum(1 for r in s.rows if not r.seed and r.status == "rejected")
  per_rung = Counter(v.rung for v in s.verifications if v.design_id not in seeds)
  rungs = " ".join(f"{rung} {per_rung[rung]}/{budget[rung]}" for rung in e.rungs)
  best = best_designs(s, 1)
  best_text = (f"best {best[0].name} {s.ranking.rating.get(best[0].id, 0.0):+.2f}" if best else "best -")
  return (f"[{_clock(elapsed)}] designs {s.sessions} sessions, {status['implemented']} accepted, {rejected} rejected, "
          f"{status['duplicate']} duplicate | verified {rungs} | {best_text} | LLM ${s.spend_usd:.2f} | "
          f"ETA {_eta(s, budget, e)}")


def _eta(s: Snapshot, budget: dict[str, int], e: ml_collections.ConfigDict) -> str:
  """Remaining verifications per rung times the mean time one took at that rung, over the verifiers."""
  seeds = {r.id for r in s.rows if r.seed}
  seconds: dict[str, list[float]] = {}
  for v in s.verifications:
    seconds.setdefault(v.rung, []).append(v.seconds)
  done = Counter(v.rung for v in s.verifications if v.design_id not in seeds)
  total, lower = 0.0, None
  for rung in e.rungs:
    per = statistics.mean(seconds[rung]) if rung in seconds else (lower * 2 if lower else None)
    if per is None:
      return "?"
    total += max(0, budget[rung] - done[rung]) * per
    lower = per
  return _clock(total / e.workers.verifiers)


def summary(s: Snapshot, budget: dict[str, int], e: ml_collections.ConfigDict, report: str) -> str:
  """The end-of-run text: what was done, the best designs against the best seed, where the report is."""
  seeds = {r.id for r in s.rows if r.seed}
  lines = ["", f"run finished: {s.implemented_new} new designs accepted out of {s.sessions} sessions; "
           + ", ".join(f"{rung}: {sum(1 for v in s.verifications if v.rung == rung and v.design_id not in seeds)}"
                       f"/{budget[rung]} verified" for rung in e.rungs)]
  top = best_designs(s, 3)
  if top:
    lines.append("best designs (fitness = Massey rating; validation bits/byte at their highest rung, best seed there):")
  for v in top:
    rung = max(v.results, key=list(e.rungs).index)
    seed_bpbs = [d.results[rung]["eval"]["validation"]["bits_per_byte"] for d in s.views if d.seed and rung in d.results]
    seed_text = f", best seed {min(seed_bpbs):.3f}" if seed_bpbs else ""
    lines.append(f"  {v.name:12s} {s.ranking.rating.get(v.id, 0.0):+.2f}  {rung} "
                 f"{v.results[rung]['eval']['validation']['bits_per_byte']:.3f}{seed_text}")
  lines.append(f"report: {report}")
  return "\n".join(lines)
