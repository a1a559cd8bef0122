"""Seconds to count a seed's parameters at paper scale (`nnx.eval_shape` of its init), drawing parameter
keys with `gau.layers.params_key` against flax's own `rngs.params()`, side by side in one run.

    python benchmarks/traced_init.py [--width 1024 --layers 24 --rounds 3]

Flax's stream updates its count in place, and under a trace that update compares the tracers' shardings;
each failed lookup formats an error message that walks every equation traced so far.
"""

from __future__ import annotations

import argparse
import statistics
import time

from genesys_jax.gau import layers
from genesys_jax.gau.composer import ModelConfig
from genesys_jax.gau.sizing import count_params
from genesys_jax.units.seeds import SEED_NAMES, seed_design

DRAWS = {"params_key": layers.params_key, "rngs.params()": lambda rngs: rngs.params()}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--width", type=int, default=1024)
  parser.add_argument("--layers", type=int, default=24)
  parser.add_argument("--rounds", type=int, default=3)
  args = parser.parse_args()
  if args.width < 8 or args.layers < 1 or args.rounds < 1:
    parser.error("--width must be at least 8, --layers and --rounds at least 1")
  config = ModelConfig(args.width, args.layers, 32000)
  print(f"{'seed':8s}{'params':>14s}" + "".join(f"{name:>16s}" for name in DRAWS) + "   (median seconds)")
  for seed in SEED_NAMES:
    md = seed_design(seed).materialize()
    count_params(md, ModelConfig(64, 1, 260))  # imports and first traces out of the timing
    seconds = {name: [] for name in DRAWS}
    counts = set()
    for _ in range(args.rounds):  # alternating, so both see the same machine load
      for name, draw in DRAWS.items():
        layers.params_key = draw
        start = time.perf_counter()
        counts.add(count_params(md, config))
        seconds[name].append(time.perf_counter() - start)
    layers.params_key = DRAWS["params_key"]
    assert len(counts) == 1, f"{seed}: the two draws counted different models {counts}"
    print(f"{seed:8s}{counts.pop():>14,d}" + "".join(f"{statistics.median(s):>16.2f}" for s in seconds.values()))


if __name__ == "__main__":
  main()
