"""Per-rung leaderboards in Markdown, with the seeds as reference rows."""

from __future__ import annotations

import pathlib

import ml_collections

from genesys_jax.evolve import layout
from genesys_jax.evolve.progress import Snapshot
from genesys_jax.files import write_text_atomic


def leaderboard_markdown(s: Snapshot, e: ml_collections.ConfigDict) -> str:
  """One table per rung, best validation bits/byte first; seeds are marked and give the reference."""
  parts = ["# Leaderboard", "", "Fitness is the design's Massey rating over all rungs; bits/byte on the "
           "validation split (lower is better), against the best seed at the same rung and the untrained model."]
  for rung in e.rungs:
    rows = [v for v in s.views if rung in v.results]
    if not rows:
      continue
    bpb = {v.id: v.results[rung]["eval"]["validation"]["bits_per_byte"] for v in rows}
    seed_bpb = min((bpb[v.id] for v in rows if v.seed), default=None)
    parts += ["", f"## {rung}", "", "| design | seed | fitness | params | val bpb | vs best seed | untrained bpb "
              "| val accuracy | steps |", "|---|---|---|---|---|---|---|---|---|"]
    for v in sorted(rows, key=lambda v: bpb[v.id]):
      r = v.results[rung]
      delta = f"{bpb[v.id] - seed_bpb:+.3f}" if seed_bpb is not None else "-"
      parts.append(f"| {v.name} | {'yes' if v.seed else ''} | {s.ranking.rating.get(v.id, 0.0):+.2f} | "
                   f"{r['model']['params']:,} | {bpb[v.id]:.3f} | {delta} | "
                   f"{r['random_init']['validation']['bits_per_byte']:.2f} | "
                   f"{r['eval']['validation']['accuracy']:.3f} | {r['train']['steps']} |")
  return "\n".join(parts) + "\n"


def write_leaderboard(workdir: pathlib.Path, s: Snapshot, e: ml_collections.ConfigDict) -> pathlib.Path:
  path = workdir / layout.REPORT / "leaderboard.md"
  path.parent.mkdir(parents=True, exist_ok=True)
  write_text_atomic(path, leaderboard_markdown(s, e))
  return path
