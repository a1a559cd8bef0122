"""The default run: fully offline, CPU-sized.

    python -m genesys_jax.main --config configs/default.py --workdir runs/default
    python -m genesys_jax.main --config configs/default.py:smoke --workdir runs/smoke

Until the evolution loop lands, the main job verifies the five seed designs: unit tests, auto-sizing
at every rung of the ladders in `sizing_ladders`, and dynamic probes (causality, gradients, a short
training run) at the lowest rung of `ladder`.
"""

import ml_collections

from genesys_jax.agents.settings import agents_config
from genesys_jax.verify.settings import verify_config


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seeds = ("gpt2", "mamba2", "retnet", "rwkv6", "ttt")
  config.ladder = "micro"                     # the ladder runs are trained on
  config.sizing_ladders = ("micro", "paper")  # ladders every seed is auto-sized on (abstractly)
  config.size_tolerance = 0.2
  config.seed = 0

  config.probe = ml_collections.ConfigDict()
  config.probe.batch = 4
  config.probe.length = 64
  config.probe.causality_positions = 8
  config.probe.train_steps = 30
  config.probe.learning_rate = 3e-3

  config.verify = verify_config()  # how `python -m genesys_jax.verify` trains and evaluates a design
  config.agents = agents_config()  # who designs: the offline designer by default (no API key needed)

  if arg == "smoke":
    config.sizing_ladders = ("micro",)
    config.probe.length = 32
    config.probe.causality_positions = 4
    config.probe.train_steps = 15
    config.probe.learning_rate = 1e-2
  elif arg:
    raise ValueError(f"unknown config variant {arg!r}; use configs/default.py or configs/default.py:smoke")
  config.lock()
  return config
