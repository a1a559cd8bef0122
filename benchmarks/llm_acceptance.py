"""Bring your own model: how often the unit-by-unit flow and the direct baseline end with an accepted design.

    python benchmarks/llm_acceptance.py --base_url http://127.0.0.1:8765/v1 --sessions 3 [--model NAME]
    GEMINI_API_KEY=... python benchmarks/llm_acceptance.py --backend gemini --sessions 3

Runs N unit-by-unit and N direct design sessions against the model (every role on it), operators in turn
(mutation, crossover, scratch) and parents taken in turn from the five seeds, each design checked by the
real sandboxed checker. Prints per flow: sessions accepted, coder attempts per written unit, rejections
by check, model calls, tokens and cost, and seconds; the paper's "+86 pp" comparison of the two flows
as a measurement on this model. `--record_dir` keeps each session's transcript (replayable with
`--config.agents.llm.backend=replay`) and its events.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import sys
import time

from genesys_jax.agents.direct_flow import DirectSession
from genesys_jax.agents.flow import DesignSession, FlowSettings, Parent, SessionResult
from genesys_jax.agents.knowledge.search import KnowledgeEngine
from genesys_jax.agents.llm.costs import Ledger
from genesys_jax.agents.llm.factory import ROLES, make_client
from genesys_jax.agents.proposal import OPERATORS
from genesys_jax.check.checker import check_design
from genesys_jax.units.seeds import SEED_NAMES, seed_design

FLOWS = {"unit-by-unit": DesignSession, "direct": DirectSession}


def _llm_config(args: argparse.Namespace, record_file: pathlib.Path | None) -> dict:
  return {"backend": args.backend, "base_url": args.base_url, "api_key_env": args.api_key_env,
          "models": {role: args.model for role in ROLES}, "structured": args.structured,
          "timeout_s": args.timeout_s, "retries": 2, "record_file": str(record_file or "")}


def _parents(operator: str, k: int) -> list[Parent]:
  seeds = list(SEED_NAMES)
  count = {"mutation": 1, "crossover": 2, "scratch": 0}[operator]
  return [Parent(seed_design(seeds[(k + j) % len(seeds)])) for j in range(count)]


def _tally(result: SessionResult, seconds: float) -> dict:
  """One session's figures from its events."""
  calls = [e for e in result.events if e["kind"] == "call"]
  checks = [e for e in result.events if e["kind"] == "check"]
  rejected = collections.Counter(c["name"] for e in checks if not e["report"]["ok"]
                                 for c in e["report"]["checks"] if not c["ok"] and c["severity"] == "error")
  units = {e.get("unit") for e in checks}
  return {"ok": result.ok, "reason": result.reason, "calls": len(calls),
          "failed_calls": sum(not c["ok"] for c in calls),
          "coder_calls": sum(c["role"] == "coder" for c in calls), "checks": len(checks),
          "units_checked": len(units), "rejections": dict(rejected),
          "tokens": sum(c["input_tokens"] + c["output_tokens"] for c in calls),
          "cost_usd": result.cost_usd, "seconds": seconds}


def run(args: argparse.Namespace) -> dict[str, list[dict]]:
  """Every session of every flow, in turn; the tallies by flow."""
  out: dict[str, list[dict]] = {flow: [] for flow in args.flows}
  for k in range(args.sessions):
    operator = OPERATORS[k % len(OPERATORS)]
    for flow in args.flows:
      name = f"{flow.replace('-', '')}-{operator[:3]}-{k}"
      record = pathlib.Path(args.record_dir) / f"{name}.jsonl" if args.record_dir else None
      client = make_client(_llm_config(args, record), Ledger())
      session = FLOWS[flow](client, KnowledgeEngine(), check_design, FlowSettings(), name)
      parents = _parents(operator, k)
      start = time.perf_counter()
      result = session.run(operator, parents, [], name)
      tally = {"session": name, "flow": flow, "operator": operator, "parents": [p.design.name for p in parents],
               **_tally(result, time.perf_counter() - start)}
      out[flow].append(tally)
      print(json.dumps(tally), flush=True)
      if record:
        record.with_suffix(".events.json").write_text(json.dumps(
            {"ok": result.ok, "reason": result.reason, "events": result.events}, indent=1, default=str))
  return out


def table(results: dict[str, list[dict]]) -> str:
  """Per flow: accepted sessions, coder attempts per unit, rejections by check, calls, tokens, cost, time."""
  lines = ["| flow | accepted | coder attempts / unit | rejections by check | calls (failed) | tokens | cost $ "
           "| s / session |", "|---|---|---|---|---|---|---|---|"]
  for flow, rows in results.items():
    if not rows:
      continue
    accepted = sum(r["ok"] for r in rows)
    units = sum(r["units_checked"] for r in rows) or 1
    rejections = collections.Counter()
    for r in rows:
      rejections.update(r["rejections"])
    reasons = ", ".join(f"{name} {n}" for name, n in rejections.most_common()) or "none"
    lines.append(f"| {flow} | {accepted}/{len(rows)} ({100 * accepted / len(rows):.0f}%) | "
                 f"{sum(r['coder_calls'] for r in rows) / units:.2f} | {reasons} | "
                 f"{sum(r['calls'] for r in rows)} ({sum(r['failed_calls'] for r in rows)}) | "
                 f"{sum(r['tokens'] for r in rows):,} | {sum(r['cost_usd'] for r in rows):.4f} | "
                 f"{sum(r['seconds'] for r in rows) / len(rows):.0f} |")
  return "\n".join(lines)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--backend", default="openai", choices=["openai", "gemini"])
  parser.add_argument("--base_url", default="", help="the OpenAI-compatible server, e.g. http://127.0.0.1:8765/v1")
  parser.add_argument("--api_key_env", default="", help="the variable holding the API key (GEMINI_API_KEY for gemini)")
  parser.add_argument("--model", default="", help="the model every role uses")
  parser.add_argument("--structured", default="schema", choices=["schema", "text"])
  parser.add_argument("--sessions", type=int, default=3, help="sessions per flow")
  parser.add_argument("--flows", nargs="+", default=list(FLOWS), choices=list(FLOWS))
  parser.add_argument("--timeout_s", type=float, default=900)
  parser.add_argument("--record_dir", default="", help="where to keep each session's transcript and events")
  parser.add_argument("--json_out", default="", help="also write the tallies here")
  args = parser.parse_args()
  if args.backend == "openai" and not args.base_url:
    parser.error("--base_url is required for the openai backend")
  if args.backend == "gemini":
    args.api_key_env = args.api_key_env or "GEMINI_API_KEY"
    args.model = args.model or "gemini-2.5-flash"
  args.model = args.model or "model"
  if args.sessions < 1:
    parser.error("--sessions must be at least 1")
  try:
    make_client(_llm_config(args, None), Ledger())
  except ValueError as e:
    parser.error(str(e))
  if args.record_dir:
    pathlib.Path(args.record_dir).mkdir(parents=True, exist_ok=True)
  results = run(args)
  if args.json_out:
    pathlib.Path(args.json_out).write_text(json.dumps(results, indent=1))
  print(table(results))
  return 0


if __name__ == "__main__":
  sys.exit(main())
