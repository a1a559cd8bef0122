"""Verify the seed designs: unit tests, auto-sizing on the ladders, and dynamic probes at the lowest rung.

Results go to `<workdir>/seeds/<name>.json` (written atomically), designs to `<workdir>/designs/`.
A seed whose result exists under the same settings is not redone, so an interrupted run resumes where
it stopped.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import jax
import ml_collections
from flax import nnx

from genesys_jax.check import probes
from genesys_jax.cli import UsageProblem
from genesys_jax.files import write_json_atomic
from genesys_jax.gau.composer import LanguageModel
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import LADDERS
from genesys_jax.gau.sizing import autosize
from genesys_jax.units.seeds import SEED_NAMES, seed_design


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises UsageProblem naming the first bad config value."""
  unknown = [s for s in config.seeds if s not in SEED_NAMES]
  if unknown:
    raise UsageProblem(f"config.seeds has unknown seeds {unknown}; choose from {list(SEED_NAMES)}")
  for ladder in [config.ladder, *config.sizing_ladders]:
    if ladder not in LADDERS:
      raise UsageProblem(f"unknown ladder {ladder!r} in the config; choose from {list(LADDERS)}")
  p = config.probe
  if min(p.batch, p.length, p.train_steps) < 2 or p.causality_positions < 1:
    raise UsageProblem("config.probe needs batch, length and train_steps >= 2 and causality_positions >= 1")
  if not 0 < config.size_tolerance < 1:
    raise UsageProblem(f"config.size_tolerance must be in (0, 1), got {config.size_tolerance}")


def verify_seed(name: str, config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """Runs every check on one seed and returns its result record."""
  start = time.perf_counter()
  design = seed_design(name)
  design.save(workdir / "designs" / f"{name}-{design.content_hash()}")
  md = design.materialize()
  unit_tests = [{"unit": u, "test": t, "error": e} for u, t, e in md.run_unit_tests()]
  rung = LADDERS[config.ladder][0]
  scales = {s.name: s for ladder in config.sizing_ladders for s in LADDERS[ladder]} | {rung.name: rung}
  sized_at = {name: autosize(md, scale, config.size_tolerance) for name, scale in scales.items()}
  sizes = {name: {"embed_dim": s.config.embed_dim, "n_layers": s.config.n_layers, "params": s.params,
                  "reference": s.reference, "ratio": round(s.ratio, 4)}
           for name, s in sized_at.items()}
  sized = sized_at[rung.name]
  p = config.probe
  key = jax.random.key(config.seed)
  model = LanguageModel(md, sized.config, rngs=nnx.Rngs(config.seed))
  tokens = jax.random.randint(key, (p.batch, p.length), 0, rung.vocab_size)
  step = max(1, (p.length - 1) // p.causality_positions)
  leaks = probes.causality_leaks(probes.jitted_forward(model), tokens, range(0, p.length - 1, step),
                                 rung.vocab_size)
  grads = probes.gradient_report(model, tokens)
  losses = probes.short_training(
      model, probes.cycle_batches(key, p.train_steps, p.batch, p.length, rung.vocab_size), p.learning_rate)
  checks = {
      "unit_tests": all(t["error"] is None for t in unit_tests),
      "causal": not leaks,
      "gradients": not grads.zero and not grads.nonfinite,
      "loss_falls": losses[-1] < losses[0],
  }
  return {
      "seed": name, "content_hash": design.content_hash(), "ok": all(checks.values()), "checks": checks,
      "unit_tests": unit_tests, "causality_leaks": leaks,
      "zero_gradients": grads.zero, "nonfinite_gradients": grads.nonfinite,
      "probe_scale": rung.name, "probe_shape": [sized.config.embed_dim, sized.config.n_layers],
      "loss_first": losses[0], "loss_last": losses[-1], "sizes": sizes,
      "seconds": round(time.perf_counter() - start, 1),
  }


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> list[dict[str, Any]]:
  """Verifies every seed in the config not yet verified in `workdir`; returns all records."""
  validate(config)
  results_dir = workdir / "seeds"
  results_dir.mkdir(parents=True, exist_ok=True)
  records = []
  for name in config.seeds:
    path = results_dir / f"{name}.json"
    record = json.loads(path.read_text()) if path.exists() else None
    if record is not None and record.get("settings") == _settings(config):
      print(f"{name}: already verified ({'ok' if record['ok'] else 'FAILED'}), kept")
    else:
      try:
        record = verify_seed(name, config, workdir)
      except DesignError as e:
        record = {"seed": name, "ok": False, "error": str(e)}
      record["settings"] = _settings(config)
      write_json_atomic(path, record)
      print(_summary_line(record), flush=True)
    records.append(record)
  return records


def _settings(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """What a seed's result depends on: a stored result is reused only under the same settings."""
  return {"ladder": config.ladder, "sizing_ladders": list(config.sizing_ladders),
          "size_tolerance": config.size_tolerance, "seed": config.seed, "probe": config.probe.to_dict()}


def _summary_line(record: dict[str, Any]) -> str:
  if "error" in record:
    return f"{record['seed']}: FAILED: {record['error']}"
  failed = [k for k, ok in record["checks"].items() if not ok]
  status = "ok" if not failed else "FAILED " + ",".join(failed)
  return (f"{record['seed']:7s} {status:6s} probe {record['probe_scale']} "
          f"d{record['probe_shape'][0]}x{record['probe_shape'][1]}  loss {record['loss_first']:.2f} -> "
          f"{record['loss_last']:.2f}  ({record['seconds']:.0f}s)")


def size_table(records: list[dict[str, Any]]) -> str:
  """Parameters after auto-sizing, one row per seed, one column per rung."""
  rows = [r for r in records if "sizes" in r]
  if not rows:
    return ""
  scales = list(rows[0]["sizes"])
  lines = ["seed     " + "".join(f"{s:>22s}" for s in scales)]
  for r in rows:
    cells = [f"{v['params'] / 1e6:8.3f}M d{v['embed_dim']}x{v['n_layers']} {v['ratio']:.2f}"
             for v in r["sizes"].values()]
    lines.append(f"{r['seed']:9s}" + "".join(f"{c:>22s}" for c in cells))
  return "\n".join(lines)
