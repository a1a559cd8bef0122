"""How often the checker accepts what the offline designer proposes.

    python benchmarks/offline_designer_acceptance.py --designs 50 --seed 0

Proposals are made the way a run makes them: parents drawn from the seeds and from earlier accepted
proposals, operators mixed 60/25/15 (mutation / crossover / scratch), known designs avoided, sizes
checked on the micro ladder. Every proposal goes through the full sandboxed checker.
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from genesys_jax.agents.offline_designer import OfflineDesigner, sizes_on
from genesys_jax.check.checker import check_design
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import MICRO_LADDER
from genesys_jax.units.seeds import SEED_NAMES, seed_design


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--designs", type=int, default=50)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  rng = np.random.default_rng(args.seed)
  designer = OfflineDesigner(args.seed, admissible=sizes_on(MICRO_LADDER))
  pool = [seed_design(n) for n in SEED_NAMES]
  known = {d.content_hash() for d in pool}
  tally = collections.Counter()
  reasons = collections.Counter()
  start = time.perf_counter()
  for i in range(args.designs):
    operator = rng.choice(["mutation", "crossover", "scratch"], p=[0.6, 0.25, 0.15])
    a, b = (pool[j] for j in rng.choice(len(pool), 2, replace=False))
    try:
      proposal = {"mutation": lambda: designer.mutate(a, f"d{i}", known),
                  "crossover": lambda: designer.crossover(a, b, f"d{i}", known),
                  "scratch": lambda: designer.scratch(f"d{i}", known)}[operator]()
    except DesignError:
      operator, proposal = "mutation", designer.mutate(a, f"d{i}", known)
    known.add(proposal.design.content_hash())
    report = check_design(proposal.design)
    tally[(operator, report.ok)] += 1
    if report.ok:
      pool.append(proposal.design)
    else:
      reasons.update(c.name for c in report.checks if not c.ok and c.fatal)
    print(f"{i + 1:>3} {operator:<9} {'accepted' if report.ok else 'rejected':<8} {proposal.rationale[:90]}",
          flush=True)
  accepted = sum(n for (op, ok), n in tally.items() if ok)
  print(f"\naccepted {accepted}/{args.designs} ({accepted / args.designs:.0%}) in {time.perf_counter() - start:.0f} s")
  for op in ("mutation", "crossover", "scratch"):
    n = tally[(op, True)] + tally[(op, False)]
    if n:
      print(f"  {op:<9} {tally[(op, True)]}/{n}")
  if reasons:
    print("rejections by check: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()))


if __name__ == "__main__":
  main()
