"""A page per design: lineage, proposal and review, unit tree, code with diffs against the first parent,
the check report, metrics per rung and where its TensorBoard logs are."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

from genesys_jax.report import charts
from genesys_jax.report.code_view import Parent, code_html, diff_html, unit_files, unit_tree_html
from genesys_jax.report.html import badge, count, design_link, esc, number, page, signed_rating, table
from genesys_jax.report.leaderboard import metric_cell
from genesys_jax.report.metrics import metrics_of
from genesys_jax.report.run_data import Run, tensorboard_dir
from genesys_jax.report.session_view import proposal_html, reviews_html, session_log_html
from genesys_jax.report.svg import sparkline


def _links(run: Run, ids: list[int] | tuple[int, ...]) -> str:
  return ", ".join(design_link(run.by_id[i].name, False) for i in ids if i in run.by_id) or "none"


def _facts(run: Run, design_id: int) -> str:
  row = run.by_id[design_id]
  rating = run.rating(design_id)
  highest = run.highest_rung(design_id)
  place = run.place(design_id)
  fitness = f"{signed_rating(rating)} (rank {place[0]} of {place[1]} verified designs)" if place else "not verified yet"
  when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.created))
  facts = [("operator", esc(row.operator or ("seed" if row.seed else "–"))),
           ("parents", _links(run, row.parents)),
           ("children", _links(run, run.children.get(design_id, []))),
           ("fitness", fitness),
           ("highest rung", esc(run.rungs[highest]) if highest is not None else "–"),
           ("changed units", esc(", ".join(row.changed_units) or "–")),
           ("created", f"{when} ({(row.created - run.start) / 60:.1f} min into the run)"),
           ("content hash", f"<code>{esc(row.content_hash)}</code>"),
           ("directory", f"<code>{esc(run.workdir / row.path)}</code>")]
  return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"


def _code(run: Run, design_id: int) -> str:
  row = run.by_id[design_id]
  parents = [Parent(run.by_id[p].name, run.trees.get(p, {}), run.workdir / run.by_id[p].path)
             for p in row.parents if p in run.by_id]
  files = unit_files(run.trees.get(design_id, {}), run.workdir / row.path, parents)
  if not files:
    return '<p class="empty">no unit files recorded</p>'
  parts = []
  for f in files:
    units = ", ".join(f.units)
    if f.code is None:
      parts.append(f'<details class="file"><summary><code>{esc(f.name)}</code> ({esc(units)}) {badge("missing", "bad")}'
                   f'</summary></details>')
      continue
    if f.diff is None and not parents:
      status, body, is_open = "", code_html(f.code), False
    elif f.diff is None:
      status, body, is_open = badge("new file", "new"), code_html(f.code), True
    elif not f.diff:
      status, body, is_open = badge("unchanged", "same"), code_html(f.code), False
    else:
      added = sum(1 for line in f.diff if line.startswith("+") and not line.startswith("+++"))
      removed = sum(1 for line in f.diff if line.startswith("-") and not line.startswith("---"))
      status = f'{badge("changed")} <span class="add">+{added}</span> <span class="del">−{removed}</span>'
      body = (diff_html(f.diff) + f"<details><summary>whole file</summary>{code_html(f.code)}</details>")
      is_open = True
    against = f" vs {esc(f.parent)}'s <code>{esc(f.parent_file)}</code>" if f.parent else ""
    parts.append(f'<details class="file"{" open" if is_open else ""}><summary><code>{esc(f.name)}</code> '
                 f'({esc(units)}) {status}{against}</summary>{body}</details>')
  return "".join(parts)


def _figure(value: Any) -> str:
  if isinstance(value, float):
    return f"{value:.4g}"
  if isinstance(value, list) and len(value) >= 4 and all(isinstance(v, (int, float)) for v in value):
    return f"{sparkline([float(v) for v in value])} {len(value)} values"
  text = json.dumps(value, default=str)
  return esc(text if len(text) <= 200 else text[:197] + "...")


def check_html(report: dict[str, Any] | None) -> str:
  """Each check's result, severity, message and figures; the isolation used and the time taken."""
  if not report:
    return '<p class="empty">no check report recorded</p>'
  rows = []
  for c in report.get("checks", []):
    verdict = (badge("ok", "good") if c.get("ok") else badge("failed", "bad") if c.get("severity") == "error"
               else badge("warning", "warn"))
    figures = "".join(f"<div><span class=\"key\">{esc(k)}</span> {_figure(v)}</div>"
                      for k, v in (c.get("figures") or {}).items())
    rows.append([f"<b>{esc(c.get('name'))}</b>", verdict, esc(c.get("severity", "")), esc(c.get("message", "")),
                 figures])
  seconds = report.get("seconds", {})
  total = seconds.get("sandbox_total")
  head = (f'<p>{badge("accepted", "good") if report.get("ok") else badge("rejected", "bad")} '
          f'isolation: {esc(", ".join(report.get("isolation", [])) or "–")}'
          f'{f"; {total:.1f} s in the sandbox" if isinstance(total, (int, float)) else ""}</p>')
  return head + table(["check", "result", "severity", "message", "figures"], rows, "checks")


def _rung_metrics(run: Run, design_id: int) -> str:
  tried = run.results.get(design_id, {})
  rungs = [r for r in run.rungs if r in tried]
  if not rungs:
    waiting = [r for r in run.rungs if (design_id, r) in run.queued]
    return f'<p class="empty">{"queued for " + ", ".join(waiting) if waiting else "not verified"}</p>'
  completed = run.completed(design_id)
  metrics = metrics_of(completed.values())
  rows = [["status"] + [badge(tried[r].status, "good" if tried[r].status == "completed" else "bad") for r in rungs]]
  rows.append(["params"] + [count(tried[r].results.get("model", {}).get("params")) for r in rungs])
  rows.append(["steps"] + [count(tried[r].results.get("train", {}).get("steps")) for r in rungs])
  rows.append(["tokens"] + [count(tried[r].results.get("budget", {}).get("tokens")) for r in rungs])
  rows.append(["tokens / s"] + [number(tried[r].results.get("train", {}).get("tokens_per_second"), 0) for r in rungs])
  rows.append(["verification seconds"] + [number(tried[r].seconds, 1) for r in rungs])
  cells = ["".join(f"<td>{c}</td>" for c in row) for row in rows]
  for m in metrics:
    line = f'<td title="{esc(m.title)}">{esc(m.label)} {"↓" if m.lower_is_better else "↑"}</td>'
    for r in rungs:
      if r not in completed:
        line += "<td>–</td>"
        continue
      line += metric_cell(m, completed[r], run.best_seed(r, m.value, m.lower_is_better), run.by_id[design_id])
    cells.append(line)
  heads = "".join(f"<th>{esc(r)}</th>" for r in rungs)
  messages = "".join(f"<p><b>{esc(r)}:</b> {esc(tried[r].results.get('message', ''))}</p>" for r in rungs
                     if tried[r].status != "completed" and tried[r].results.get("message"))
  return (f'<div class="scroll"><table class="metrics"><thead><tr><th>metric</th>{heads}</tr></thead><tbody>'
          + "".join(f"<tr>{c}</tr>" for c in cells) + f"</tbody></table></div>{messages}"
          + charts.design_loss_chart(run, design_id))


def _tensorboard(run: Run, design_id: int) -> str:
  dirs = [v.run_dir for rung in run.rungs if (v := run.results.get(design_id, {}).get(rung)) and v.run_dir]
  if not dirs:
    return '<p class="empty">no training logs yet</p>'
  folders = "".join(f"<li><code>{esc(tensorboard_dir(d))}</code></li>" for d in dirs)
  logdir = pathlib.Path(run.workdir).resolve() / pathlib.PurePosixPath(dirs[0]).parent
  return (f"<p>Relative to the run directory:</p><ul>{folders}</ul>"
          f'<pre class="command">tensorboard --logdir {esc(logdir)}</pre>')


def design_page(run: Run, design_id: int, index: str = "index.html") -> str:
  """The whole page of one design; `index` is the file name of the report's front page, one folder up."""
  row = run.by_id[design_id]
  session = run.session_of.get(design_id)
  status = run.status(design_id)
  badges = badge(status, "seed" if row.seed else status) + (badge(row.operator) if row.operator else "")
  sections = [
      ("Lineage and facts", _facts(run, design_id)),
      ("Proposal", proposal_html(session, row.rationale)),
      ("Review", reviews_html(session)),
      ("Unit tree", unit_tree_html(run.trees.get(design_id, {}), row.changed_units,
                                   [run.trees.get(p, {}) for p in row.parents])),
      ("Code", _code(run, design_id)),
      ("Check report", check_html(session["check"] if session else None)),
      ("Metrics per rung", _rung_metrics(run, design_id)),
      ("TensorBoard", _tensorboard(run, design_id)),
      ("Design session", session_log_html(session) or '<p class="empty">seed design: no design session</p>'),
  ]
  body = "".join(f'<section><h2>{title}</h2>{html}</section>' for title, html in sections)
  header = (f'<header><nav><a href="../{esc(index)}">← run report</a></nav>'
            f'<h1><span class="name">{esc(row.name)}</span> {badges}</h1></header>')
  return page(f"{row.name} · genesys run", f"{header}<main>{body}</main>")
