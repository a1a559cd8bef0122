"""Where a finished run's time went: designs per hour, and the share of compile, check, training and
evaluation in the workers' busy time, read from the run's store.

    python -m genesys_jax.main --config configs/default.py --workdir runs/default
    python benchmarks/run_profile.py --workdir runs/default
"""

from __future__ import annotations

import argparse
import collections
import pathlib

from genesys_jax.evolve.store_location import open_store


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  args = parser.parse_args()
  store = open_store(pathlib.Path(args.workdir))
  starts, ends = store.events("start"), store.events("finished")
  wall = ends[-1]["time"] - starts[0]["time"] if ends else float("nan")
  rows = store.designs()
  new = [r for r in rows if not r.seed]
  implemented = [r for r in new if r.status == "implemented"]
  seconds: collections.Counter[str] = collections.Counter()
  for s in store.sessions():
    seconds["design session (offline designer)"] += s["seconds"] - (s["check"] or {}).get("seconds", {}).get("sandbox_total", 0.0)
    if s["check"]:
      seconds["check (sandboxed)"] += s["check"]["seconds"].get("sandbox_total", 0.0)
  per_rung = collections.Counter()
  for v in store.verifications():
    t = v.results.get("timings", {})
    seconds["verify: compile"] += t.get("compile", 0.0)
    seconds["verify: train"] += t.get("train", 0.0)
    seconds["verify: evaluation"] += t.get("eval", 0.0) + t.get("baseline_eval", 0.0)
    seconds["verify: diagnostics"] += t.get("diagnostics", 0.0)
    seconds["verify: other (load, data, checkpoints)"] += v.seconds - sum(t.get(k, 0.0) for k in (
        "compile", "train", "eval", "baseline_eval", "diagnostics"))
    per_rung[v.rung] += 1
  busy = sum(seconds.values())
  print(f"wall {wall:.0f} s; {len(store.sessions())} design sessions, {len(implemented)} designs accepted "
        f"({len(implemented) / wall * 3600:.0f} accepted designs per hour); verifications per rung: {dict(per_rung)}")
  print(f"worker busy time {busy:.0f} s ({busy / wall:.2f} x wall: designer and verifier overlap)")
  for name, s in seconds.most_common():
    print(f"  {name:42s} {s:7.0f} s  {s / busy:6.1%}")


if __name__ == "__main__":
  main()
