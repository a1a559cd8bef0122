"""What a design session recorded, as HTML: the proposal, the review rounds and ratings, and the event log."""

from __future__ import annotations

import json
from typing import Any

from genesys_jax.report.html import badge, esc, table

Session = dict[str, Any]
"""A row of store.sessions() with its "events"."""


def _calls(session: Session, role: str) -> list[dict[str, Any]]:
  return [e for e in session["events"] if e.get("kind") == "call" and e.get("role") == role]


def proposal_html(session: Session | None, rationale: str) -> str:
  """The rationale the store kept, and the proposer's last answer when an LLM wrote one."""
  parts = [f'<p class="rationale">{esc(rationale)}</p>' if rationale else '<p class="empty">no rationale recorded</p>']
  answers = [c["parsed"] for c in _calls(session or {"events": []}, "proposer") if c.get("parsed")]
  if answers:
    a = answers[-1]
    parts.append(f'<h4>{esc(a.get("title", "proposal"))}</h4>')
    for key in ("motivation", "idea"):
      if a.get(key):
        parts.append(f'<p><b>{key}:</b> {esc(a[key])}</p>')
    if a.get("selection"):
      parts.append(f'<p><b>selection:</b> {esc(", ".join(a["selection"]))}</p>')
    units = "".join(f'<li><b>{esc(u.get("name", ""))}</b>: {esc(u.get("description", ""))}</li>'
                    for u in a.get("new_units", []))
    if units:
      parts.append(f"<p><b>new units:</b></p><ul>{units}</ul>")
  return "".join(parts)


def reviews_html(session: Session | None) -> str:
  """Each review round (rating, pass, sub-scores, the reviewer's text) and the observer's unit ratings."""
  if session is None:
    return '<p class="empty">seed design: no design session</p>'
  rounds, observed, last_review = [], [], None
  for e in session["events"]:
    kind = e.get("kind")
    if kind == "call" and e.get("role") == "reviewer":
      last_review = e.get("parsed") or {}
    elif kind == "review":
      scores = ", ".join(f"{k} {e[k]}" for k in ("novelty", "soundness", "efficiency", "scalability") if k in e)
      text = e.get("review") or (last_review or {}).get("review", "")
      suggestions = (last_review or {}).get("suggestions", "") if "review" not in e else ""
      rounds.append([str(len(rounds) + 1), f'<b>{esc(e.get("rating"))}</b>/5',
                     badge("passed", "good") if e.get("passed") else badge("sent back", "bad"), esc(scores),
                     esc(text) + (f'<br><i>suggestions:</i> {esc(suggestions)}' if suggestions else "")])
      last_review = None
    elif kind == "observe":
      observed.append([esc(e.get("unit", "")), esc(e.get("attempt", "")), esc(e.get("rating"))])
  if not rounds and not observed:
    designer = session.get("designer", "")
    return f'<p class="empty">{esc(designer)} designer: no review</p>'
  parts = []
  if rounds:
    parts.append(table(["round", "rating", "verdict", "scores", "review"], rounds, "compact"))
  if observed:
    parts.append("<h4>observer ratings of the units</h4>" + table(["unit", "attempt", "rating"], observed, "compact"))
  return "".join(parts)


def _event_text(e: dict[str, Any]) -> str:
  kind = e.get("kind")
  if kind == "call":
    status = "" if e.get("ok") else f' {badge("failed", "bad")} {esc(e.get("error") or "")}'
    answer = e.get("text") or ""
    details = (f'<details><summary>answer ({len(answer):,} characters)</summary><pre class="answer">'
               f'{esc(answer)}</pre></details>') if answer else ""
    return (f'<b>{esc(e.get("role"))}</b> {esc(e.get("model"))}: {e.get("input_tokens", 0):,} + '
            f'{e.get("output_tokens", 0):,} tokens, ${e.get("cost_usd", 0):.4f}, {e.get("seconds", 0):.1f} s{status}'
            f'{details}')
  if kind == "check":
    report = e.get("report") or {}
    failed = [c["name"] for c in report.get("checks", []) if not c.get("ok")]
    verdict = badge("ok", "good") if report.get("ok") else badge("rejected", "bad")
    where = f'unit {esc(e["unit"])}' if e.get("unit") else "design"
    return f'check of {where}, attempt {esc(e.get("attempt", 1))}: {verdict} {esc(", ".join(failed))}'
  if kind == "search":
    return f'search: {esc("; ".join(e.get("queries", [])))} ({len(e.get("hits", []))} hits)'
  fields = {k: v for k, v in e.items() if k != "kind"}
  return f'<b>{esc(kind)}</b> {esc(json.dumps(fields, default=str)[:400])}'


def session_log_html(session: Session | None) -> str:
  """The session's events in order (LLM answers folded)."""
  if session is None:
    return ""
  facts = (f'{esc(session["designer"])} designer, {esc(session["operator"])}, {session["seconds"]:.1f} s, '
           f'${session["cost_usd"]:.4f}; outcome: {esc(session["reason"])}')
  if not session["events"]:
    return f"<p>{facts}</p>"
  items = "".join(f"<li>{_event_text(e)}</li>" for e in session["events"])
  return (f'<p>{facts}</p><details><summary>{len(session["events"])} events</summary>'
          f'<ol class="log">{items}</ol></details>')
