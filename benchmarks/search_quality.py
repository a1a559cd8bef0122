"""Is the evolutionary loop worth having? The default run against random search at equal budget.

    python benchmarks/search_quality.py --seeds 0 1 2 [--workdir runs/search_quality] [--config configs/default.py]

Runs the main job once per (strategy, seed): `evolution` (fitness-driven parents and promotions) and
`random` (the same designer, operator mix and ladder budget, parents and promotions drawn uniformly).
Prints, per run and as means: the best new design's validation bits/byte at the lowest rung and at
the top rung, each against the best seed verified at that rung (negative: the search beat the seeds),
the mean over all new designs at the lowest rung, and wall time. Finished runs are read back.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import subprocess
import sys
import time

from genesys_jax.evolve.store_location import open_store

STRATEGIES = ("evolution", "random")


def _bpb(results: dict) -> float:
  return results["eval"]["validation"]["bits_per_byte"]


def measure(workdir: pathlib.Path, rungs: list[str]) -> dict:
  """Best new design vs best seed at the lowest rung and at the highest rung the run reached."""
  store = open_store(workdir)
  seeds = {r.id for r in store.designs() if r.seed}
  done = [v for v in store.verifications() if v.status == "completed"]
  out = {}
  for label, rung in (("lowest", rungs[0]), ("top", rungs[-1])):
    new = [_bpb(v.results) for v in done if v.rung == rung and v.design_id not in seeds]
    ref = [_bpb(v.results) for v in done if v.rung == rung and v.design_id in seeds]
    out[label] = (min(new) - min(ref)) if new and ref else float("nan")
    if label == "lowest":
      out["best_lowest"], out["seed_lowest"] = min(new), min(ref)
      out["mean_lowest"] = statistics.mean(new) - min(ref)
  first, last = store.events("start")[0]["time"], store.events("finished")[-1]["time"]
  out["wall_s"] = last - first
  return out


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
  parser.add_argument("--workdir", default="runs/search_quality")
  parser.add_argument("--config", default="configs/default.py")
  parser.add_argument("--rungs", nargs="+", default=["micro1", "micro2"])
  args = parser.parse_args()
  rows = {}
  for seed in args.seeds:
    for strategy in STRATEGIES:
      workdir = pathlib.Path(args.workdir) / f"{strategy}-{seed}"
      started = time.perf_counter()
      subprocess.run([sys.executable, "-m", "genesys_jax.main", "--config", args.config, "--workdir", str(workdir),
                      f"--config.evolve.seed={seed}", f"--config.evolve.selection.strategy={strategy}",
                      "--config.evolve.workers.status_every_s=120"], check=True)
      rows[strategy, seed] = measure(workdir, args.rungs)
      print(f"{strategy}-{seed} done in {time.perf_counter() - started:.0f} s", flush=True)
  print("\nvalidation bits/byte of the best new design minus the best seed's at the same rung (lower is better)")
  print(f"{'strategy':10s} {'seed':>4s} {'lowest rung':>12s} {'top rung':>9s} {'mean new (lowest)':>18s} "
        f"{'best new':>9s} {'best seed':>9s} {'wall s':>7s}")
  for (strategy, seed), r in rows.items():
    print(f"{strategy:10s} {seed:4d} {r['lowest']:+12.3f} {r['top']:+9.3f} {r['mean_lowest']:+18.3f} "
          f"{r['best_lowest']:9.3f} {r['seed_lowest']:9.3f} {r['wall_s']:7.0f}")
  for strategy in STRATEGIES:
    mine = [r for (s, _), r in rows.items() if s == strategy]
    print(f"{strategy:10s} mean {statistics.mean(r['lowest'] for r in mine):+12.3f} "
          f"{statistics.mean(r['top'] for r in mine):+9.3f} {statistics.mean(r['mean_lowest'] for r in mine):+18.3f}")


if __name__ == "__main__":
  main()
