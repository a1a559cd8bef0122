"""Per-rung leaderboards in HTML: every metric against the best seed at the rung and against the untrained
model or chance; seeds are reference rows."""

from __future__ import annotations

from genesys_jax.evolve.store_rows import DesignRow
from genesys_jax.report.html import badge, count, design_link, esc, number, signed, signed_rating
from genesys_jax.report.metrics import VALIDATION_BPB, Metric, metrics_of
from genesys_jax.report.phylogeny import fitness_color, fitness_scale
from genesys_jax.report.run_data import Run


def metric_cell(m: Metric, results: dict, seed: tuple[str, float] | None, row: DesignRow) -> str:
  """`row`'s value, its difference to the best seed's `seed` (name, value) and to the untrained model or chance."""
  value = m.value(results)
  is_best_seed = seed is not None and row.seed and seed[0] == row.name
  if value is None:
    return '<td class="num" data-v="">–</td>'
  tip = [f"{m.title}: {value:.4f}"]
  lines = [f'<span class="v">{number(value)}</span>']
  if seed is not None:
    diff = value - seed[1]
    kind = "ref" if is_best_seed else "good" if m.better(value, seed[1]) else "bad" if diff else "same"
    text = "best seed" if is_best_seed else f"{signed(diff)} seed"
    lines.append(f'<span class="d {kind}">{text}</span>')
    tip.append(f"best seed {seed[0]}: {seed[1]:.4f} (difference {diff:+.4f})")
  baseline = m.baseline(results)
  if baseline is not None:
    lines.append(f'<span class="r">{signed(value - baseline)} {m.reference_name}</span>')
    tip.append(f"{m.reference_name}: {baseline:.4f} (difference {value - baseline:+.4f})")
  return f'<td class="num" data-v="{value:.6g}" title="{esc(chr(10).join(tip))}">{"".join(lines)}</td>'


def leaderboard(run: Run, rung: str) -> str:
  """The table of the designs verified at `rung`, best validation bits/byte first; failed runs at the end."""
  ids = [r.id for r in run.rows if rung in run.completed(r.id)]
  if not ids:
    return ""
  metrics = metrics_of(run.completed(i)[rung] for i in ids)
  seeds = {m.label: run.best_seed(rung, m.value, m.lower_is_better) for m in metrics}
  def bpb(i: int) -> float:
    value = VALIDATION_BPB.value(run.completed(i)[rung])
    return float("inf") if value is None else value
  ids.sort(key=lambda i: (bpb(i), i))
  lo, hi = fitness_scale(run)
  headers = ['<th data-sort="num" title="position by validation bits/byte">#</th>', '<th data-sort="text">design</th>',
             '<th data-sort="num" title="Massey rating over all rungs (higher is better)">fitness</th>',
             '<th data-sort="num">params</th>', '<th data-sort="num">steps</th>']
  headers += [f'<th data-sort="num" title="{esc(m.title)} ({"lower" if m.lower_is_better else "higher"} is better)">'
              f'{esc(m.label)} {"↓" if m.lower_is_better else "↑"}</th>' for m in metrics]
  body = []
  for k, i in enumerate(ids):
    row, results = run.by_id[i], run.completed(i)[rung]
    rating = run.ranking.rating.get(i, 0.0)
    chip = fitness_color((rating - lo) / ((hi - lo) or 1.0))
    cells = [f'<td class="num" data-v="{k + 1}">{k + 1}</td>',
             f'<td data-v="{esc(row.name)}">{design_link(row.name, True)}{badge("seed") if row.seed else ""}</td>',
             f'<td class="num" data-v="{rating:.6g}"><span class="chip" style="background:{chip}"></span>'
             f'{signed_rating(rating)}</td>',
             f'<td class="num" data-v="{results.get("model", {}).get("params", "")}">'
             f'{count(results.get("model", {}).get("params"))}</td>',
             f'<td class="num" data-v="{results.get("train", {}).get("steps", "")}">'
             f'{count(results.get("train", {}).get("steps"))}</td>']
    cells += [metric_cell(m, results, seeds[m.label], row) for m in metrics]
    classes = "seed" if row.seed else ""
    body.append(f'<tr class="{classes}" data-design="{esc(row.name)}">{"".join(cells)}</tr>')
  failed = [v for v in run.verifications if v.rung == rung and v.status != "completed"]
  for v in failed:
    name = run.by_id[v.design_id].name
    message = v.results.get("message", "")
    body.append(f'<tr class="failed" data-design="{esc(name)}"><td class="num" data-v="">–</td>'
                f'<td data-v="{esc(name)}">{design_link(name, True)}</td>'
                f'<td colspan="{len(headers) - 2}">{badge(v.status, "failed")} {esc(message[:300])}</td></tr>')
  return (f'<div class="scroll"><table class="leaderboard sortable" id="leaderboard-{esc(rung)}" '
          f'data-rung="{esc(rung)}"><thead><tr>{"".join(headers)}</tr></thead>'
          f'<tbody>{"".join(body)}</tbody></table></div>')


def leaderboards(run: Run) -> str:
  """One section per rung with verifications, lowest rung first."""
  parts = []
  for rung in run.rungs:
    table = leaderboard(run, rung)
    if table:
      n = sum(1 for r in run.rows if not r.seed and rung in run.completed(r.id))
      parts.append(f'<h3 id="rung-{esc(rung)}">{esc(rung)} <small>{n} new designs of a budget of '
                   f'{run.budget[rung]}</small></h3>{table}')
  if not parts:
    return '<p class="empty">nothing verified yet</p>'
  return "".join(parts)
