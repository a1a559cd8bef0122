"""The run's plots: fitness over time, the ladder funnel, training losses of the top designs, LLM spend
and why the checker rejected designs."""

from __future__ import annotations

import statistics
from collections import Counter

from genesys_jax.evolve import fitness
from genesys_jax.report import svg
from genesys_jax.report.metrics import VALIDATION_BPB
from genesys_jax.evolve.records import design_views
from genesys_jax.report.run_data import Run, read_history

MAX_TIME_POINTS = 64
"""Fitness over time re-ranks the designs at most about this many times."""

_RANKED: dict[tuple[str, float, float, float], dict[str, float]] = {}
"""(run directory, min_margin, draw_margin, time) -> the figures of the ranking at that time. Verifications
are only ever added, so a past ranking never changes: a process writing the report again and again (the
controller) ranks each time point once."""


def _minutes(run: Run, t: float) -> float:
  return (t - run.start) / 60.0


def sample_times(times: list[float], max_points: int) -> list[float]:
  """Every `step`-th time and the last, `step` a power of two keeping it under about `max_points`; as the
  run grows the step doubles, so earlier samples stay samples."""
  step = 1
  while len(times) > step * max_points:
    step *= 2
  chosen = times[step - 1::step]
  return chosen if not times or chosen[-1:] == times[-1:] else chosen + times[-1:]


def _ranked_at(run: Run, t: float) -> dict[str, float]:
  key = (str(run.workdir.resolve()), run.min_margin, run.draw_margin, t)
  if key not in _RANKED:
    views = [v for v in design_views(run.rows, run.verifications, until=t) if v.results]
    ratings = fitness.rank_designs(views, run.min_margin, run.draw_margin).rating
    new = [ratings[v.id] for v in views if not v.seed]
    seeds = [ratings[v.id] for v in views if v.seed]
    figures = {"best seed": max(seeds)} if seeds else {}
    if new:
      figures.update(best=max(new), median=statistics.median(new))
    _RANKED[key] = figures
  return _RANKED[key]


def fitness_points(run: Run, max_points: int = MAX_TIME_POINTS) -> dict[str, list[tuple[float, float]]]:
  """Best and median fitness of the new designs, and the best seed's, after completed verifications,
  ranking only what was known then; x in minutes since the run started."""
  times = sorted({v.created for v in run.verifications if v.status == "completed"})
  out: dict[str, list[tuple[float, float]]] = {"best": [], "median": [], "best seed": []}
  for t in sample_times(times, max_points):
    for name, value in _ranked_at(run, t).items():
      out[name].append((_minutes(run, t), value))
  return out


def fitness_chart(run: Run) -> str:
  points = fitness_points(run)
  series = [svg.Series("best new design", points["best"], svg.PALETTE[0], step=True, markers=True),
            svg.Series("median new design", points["median"], svg.PALETTE[1], step=True, markers=True),
            svg.Series("best seed", points["best seed"], svg.REFERENCE, dashed=True, step=True)]
  return svg.line_chart(series, "minutes since the run started", "fitness (Massey rating)")


def funnel_bars(run: Run) -> list[svg.Bar]:
  """Design sessions, designs written, accepted by the checker, then verifications per rung (seeds excluded)."""
  new = [r for r in run.rows if not r.seed]
  bars = [svg.Bar("design sessions", len(run.sessions), svg.PALETTE[8]),
          svg.Bar("designs written", len(new), svg.PALETTE[5]),
          svg.Bar("accepted by the checker", sum(r.status == "implemented" for r in new), svg.PALETTE[2])]
  seeds = {r.id for r in run.rows if r.seed}
  for k, rung in enumerate(run.rungs):
    done = [v for v in run.verifications if v.rung == rung and v.design_id not in seeds]
    completed = sum(v.status == "completed" for v in done)
    failed = len(done) - completed
    note = f"of {run.budget[rung]}" + (f", {failed} failed" if failed else "")
    bars.append(svg.Bar(f"verified at {rung}", completed, svg.PALETTE[0] if k == 0 else svg.PALETTE[4], note))
  return bars


def funnel_chart(run: Run) -> str:
  return svg.bar_chart(funnel_bars(run), "designs (budget per rung after 'of')")


def top_designs(run: Run, n: int = 5) -> list[int]:
  """The `n` fittest verified new designs, best first."""
  verified = [r.id for r in run.rows if not r.seed and run.rating(r.id) is not None]
  return sorted(verified, key=lambda i: (-run.ranking.rating[i], i))[:n]


def _after_warmup(series: list[svg.Series]) -> tuple[float, float] | None:
  """A y range from the lowest loss to the highest after a tenth of training, where the curves differ."""
  if not series:
    return None
  lows = [min(y for _, y in s.points) for s in series]
  highs = [max(y for _, y in s.points[len(s.points) // 10:]) for s in series]
  return min(lows), max(highs)


def loss_chart(run: Run, n: int = 5) -> str:
  """Training loss of the top designs at their highest rung: a chart per rung (highest first), each with the
  best seed at that rung dashed."""
  top = top_designs(run, n)
  if not top:
    return '<p class="empty">no design verified yet</p>'
  color = {i: svg.PALETTE[k % len(svg.PALETTE)] for k, i in enumerate(top)}
  parts = []
  for rung in reversed(run.rungs):
    ids = [i for i in top if run.rungs[run.highest_rung(i)] == rung]
    if not ids:
      continue
    series = [svg.Series(run.by_id[i].name, read_history(run.workdir, run.results[i][rung].run_dir), color[i])
              for i in ids]
    best = run.best_seed(rung, VALIDATION_BPB.value, True)
    if best is not None:
      seed = next(r for r in run.seeds if r.name == best[0])
      history = read_history(run.workdir, run.results[seed.id][rung].run_dir)
      series.append(svg.Series(f"{seed.name} (best seed)", history, svg.REFERENCE, dashed=True))
    series = [s for s in series if s.points]
    parts.append(f'<h4>{rung}</h4>' + svg.line_chart(series, "training step", "training loss", height=240,
                                                     y_range=_after_warmup(series)))
  return "".join(parts)


def spend_chart(run: Run) -> str:
  """Cumulative LLM spend over the design sessions."""
  total, points = 0.0, []
  for s in sorted(run.sessions, key=lambda s: s["created"]):
    total += s["cost_usd"]
    points.append((_minutes(run, s["created"]), total))
  if total == 0:
    return f'<p class="empty">no LLM spend ({run.designer} designer)</p>'
  return svg.line_chart([svg.Series("cumulative spend", points, svg.PALETTE[3], markers=len(points) <= 80)],
                        "minutes since the run started", "US dollars")


def _failed_errors(report: dict | None) -> list[str]:
  return [c["name"] for c in (report or {}).get("checks", [])
          if not c.get("ok") and c.get("severity", "error") == "error"]


def rejection_counts(run: Run) -> Counter[str]:
  """How often each check rejected a design: failed checks of severity error in the sessions' final reports."""
  return Counter(name for s in run.sessions for name in _failed_errors(s["check"]))


def attempt_rejection_counts(run: Run) -> Counter[str]:
  """The same for the checks of the coder's attempts inside LLM sessions (each retried with the report)."""
  return Counter(name for s in run.sessions for e in s["events"] if e.get("kind") == "check"
                 for name in _failed_errors(e.get("report")))


def rejection_chart(run: Run) -> str:
  final, attempts = rejection_counts(run), attempt_rejection_counts(run)
  parts = [svg.bar_chart([svg.Bar(name, n, svg.PALETTE[3]) for name, n in final.most_common()],
                         "designs rejected by the check") if final else '<p class="empty">no design failed a check</p>']
  if attempts:
    parts.append(svg.bar_chart([svg.Bar(name, n, svg.PALETTE[1]) for name, n in attempts.most_common()],
                               "coder attempts rejected inside LLM sessions (then retried)"))
  return "".join(parts)


def session_failures(run: Run) -> Counter[str]:
  """Why sessions ended without a design (the checker's rejections are counted above)."""
  return Counter(s["reason"] for s in run.sessions if s["design_id"] is None)


def design_loss_chart(run: Run, design_id: int) -> str:
  """One design's training loss at every rung it trained at."""
  series = [svg.Series(rung, read_history(run.workdir, v.run_dir), svg.PALETTE[k % len(svg.PALETTE)])
            for k, rung in enumerate(run.rungs) if (v := run.results.get(design_id, {}).get(rung))]
  return svg.line_chart([s for s in series if s.points], "training step", "training loss", width=560, height=260)

