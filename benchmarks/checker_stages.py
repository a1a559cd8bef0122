"""Wall time of the checker per stage for the five seeds, on this machine.

    python benchmarks/checker_stages.py            # warm: uses the persistent compilation cache
    python benchmarks/checker_stages.py --cold     # with an empty compilation cache

Prints one row per seed: seconds per stage inside the sandbox and the whole check as seen by the caller.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import tempfile
import time

from genesys_jax.check.checker import check
from genesys_jax.units.seeds import SEED_NAMES, seed_design

STAGES = ("static_vetting", "load", "unit_tests", "forward", "causality", "differentiability",
          "parameter_band", "compile", "training", "fingerprint")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--cold", action="store_true", help="use a fresh, empty compilation cache")
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as tmp:
    if args.cold:
      os.environ["GENESYS_JAX_CACHE"] = str(pathlib.Path(tmp) / "cache")
    print(f"{'seed':8s}" + "".join(f"{s[:10]:>11s}" for s in STAGES) + f"{'sandbox':>9s}{'total':>8s}  isolation")
    for name in SEED_NAMES:
      start = time.perf_counter()
      report = check(seed_design(name).save(pathlib.Path(tmp) / name))
      total = time.perf_counter() - start
      cells = "".join(f"{report.seconds.get(s, float('nan')):>11.2f}" for s in STAGES)
      print(f"{name:8s}{cells}{report.seconds['sandbox_total']:>9.2f}{total:>8.2f}  "
            f"{'accepted' if report.ok else 'REJECTED'}, {len(report.isolation)} layers")


if __name__ == "__main__":
  main()
