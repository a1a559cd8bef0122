"""The report's front page: headline numbers, the phylogeny, the progress plots, the leaderboards and a
table of every design."""

from __future__ import annotations

import time

from genesys_jax.report import charts
from genesys_jax.report.html import badge, design_link, esc, page, signed_rating, table
from genesys_jax.report.leaderboard import leaderboards
from genesys_jax.report.metrics import VALIDATION_BPB
from genesys_jax.report.phylogeny import generations, phylogeny_legend, phylogeny_svg
from genesys_jax.report.run_data import Run


def _cards(run: Run) -> str:
  new = [r for r in run.rows if not r.seed]
  statuses = [run.status(r.id) for r in new]
  seeds = {r.id for r in run.rows if r.seed}
  cards = [("designs", f"{sum(r.status == 'implemented' for r in new)} accepted",
            f"{len(run.sessions)} sessions · {statuses.count('rejected')} rejected · "
            f"{statuses.count('duplicate')} duplicate · {statuses.count('failed')} failed · seeds: {len(seeds)}")]
  for rung in run.rungs:
    done = sum(1 for v in run.verifications if v.rung == rung and v.design_id not in seeds)
    queued = sum(1 for d, r in run.queued if r == rung)
    cards.append((f"verified at {rung}", f"{done} / {run.budget[rung]}", f"{queued} queued or running"))
  top = charts.top_designs(run, 1)
  if top:
    best = run.by_id[top[0]]
    rung = run.rungs[run.highest_rung(best.id)]
    bpb = VALIDATION_BPB.value(run.completed(best.id)[rung])
    seed = run.best_seed(rung, VALIDATION_BPB.value, True)
    detail = f"fitness {signed_rating(run.ranking.rating[best.id])}; {rung}: "
    detail += f"{bpb:.3f} bits/byte" if bpb is not None else "no bits/byte"
    if seed is not None and bpb is not None:
      detail += f", best seed {esc(seed[0])} {seed[1]:.3f}"
    cards.append(("best design", design_link(best.name, True), detail))
  spend = sum(s["cost_usd"] for s in run.sessions)
  cards.append(("LLM spend", f"${spend:.2f}", f"{esc(run.designer)} designer"))
  end = max([run.start] + [v.created for v in run.verifications] + [r.created for r in run.rows]
            + [e["time"] for e in run.events])
  cards.append(("duration", f"{(end - run.start) / 60:.1f} min", "from the first to the last record"))
  return '<div class="cards">' + "".join(
      f'<div class="card"><div class="label">{esc(label)}</div><div class="big">{big}</div>'
      f'<div class="small">{small}</div></div>' for label, big, small in cards) + "</div>"


def _all_designs(run: Run) -> str:
  gen = generations(run.rows)
  rows = []
  for r in run.rows:
    rating = run.rating(r.id)
    highest = run.highest_rung(r.id)
    status = run.status(r.id)
    rows.append([design_link(r.name, True),
                 badge(status, "seed" if r.seed else status), esc(r.operator or "–"),
                 ", ".join(design_link(run.by_id[p].name, True) for p in r.parents if p in run.by_id) or "–",
                 str(gen[r.id]), signed_rating(rating) if rating is not None else "–",
                 esc(run.rungs[highest]) if highest is not None else "–",
                 f"{(r.created - run.start) / 60:.1f}", esc(", ".join(r.changed_units))])
  headers = ["design", "status", "operator", "parents", "generation", "fitness", "highest rung", "minute",
             "changed units"]
  return '<div class="scroll">' + table(headers, rows, "designs sortable") + "</div>"


def _session_failures(run: Run) -> str:
  reasons = charts.session_failures(run)
  if not reasons:
    return '<p class="empty">every session produced a design</p>'
  return table(["sessions", "reason"], [[str(n), esc(reason)] for reason, n in reasons.most_common()], "compact")


def index_page(run: Run) -> str:
  """The front page (links to designs/<name>.html)."""
  generated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.generated))
  header = (f'<header><h1>Genesys run <span class="name">{esc(run.workdir.resolve().name)}</span> '
            f'{badge(run.state)}</h1><p class="sub"><code>{esc(run.workdir.resolve())}</code> · '
            f'report written {generated}</p><nav><a href="#phylogeny">phylogeny</a><a href="#progress">progress</a>'
            f'<a href="#leaderboards">leaderboards</a><a href="#designs">all designs</a>'
            f'<a href="#sessions">sessions</a></nav></header>')
  plots = [("Fitness over time", "Massey rating of the best and median new design and the best seed, re-ranked "
            "with only the verifications finished by then.", charts.fitness_chart(run)),
           ("Ladder funnel", "Design sessions, designs written, accepted by the checker, and verified at each rung "
            "(seeds excluded).", charts.funnel_chart(run)),
           ("Training loss of the top designs", "The five fittest new designs, each at its highest rung; dashed: the "
            "best seed at that rung.", charts.loss_chart(run)),
           ("Check rejections", "Checks that failed in the final check of each design session (and in the checks of "
            "the coder's attempts, in LLM sessions).", charts.rejection_chart(run)),
           ("LLM spend", "Cumulative cost of the design sessions.", charts.spend_chart(run))]
  grid = "".join(f'<div class="panel"><h3>{title}</h3><p class="caption">{caption}</p>{chart}</div>'
                 for title, caption, chart in plots)
  body = (f'{_cards(run)}'
          f'<section id="phylogeny"><h2>Phylogeny</h2>{phylogeny_legend(run)}'
          f'<p class="caption">Columns are generations (the longest path from a seed). Hover a design to highlight '
          f'its ancestors and descendants; click it to open its page.</p>'
          f'<div class="scroll tree-box">{phylogeny_svg(run)}</div></section>'
          f'<section id="progress"><h2>Progress</h2><div class="grid">{grid}</div></section>'
          f'<section id="leaderboards"><h2>Leaderboards</h2><p class="caption">Per rung, best validation bits/byte '
          f'first; click a column to sort. Under each value: its difference to the best seed at the rung (green: '
          f'better) and to the untrained model or chance. Fitness is the Massey rating over all rungs.</p>'
          f'{leaderboards(run)}</section>'
          f'<section id="designs"><h2>All designs</h2>{_all_designs(run)}</section>'
          f'<section id="sessions"><h2>Sessions without a design</h2>{_session_failures(run)}</section>')
  return page(f"Genesys run {run.workdir.resolve().name}", f"{header}<main>{body}</main>")
