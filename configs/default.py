"""The default run: fully offline (offline designer, bundled corpus), on the CPU micro-ladder.

    python -m genesys_jax.main --config configs/default.py --workdir runs/default
    python -m genesys_jax.main --config configs/default.py:smoke --workdir runs/smoke

Five seeds, then 16 new designs verified at micro1 and the best 4 promoted to micro2 (a budget
narrowing by 0.25 per rung, as in the paper), on 2 CPU cores in 10 to 12 minutes. `:smoke` is the
same loop with the GPT seed and a 2/1 budget on two rungs, in under 2 minutes.

Its sweep is the search-quality study: three search seeds, each with evolutionary and random selection
(six runs, about 70 minutes on 2 CPU cores; `:smoke` runs the same six in about 10):

    python -m genesys_jax.sweep --config configs/default.py --workdir runs/search_quality
"""

import ml_collections

from genesys_jax.agents.settings import agents_config
from genesys_jax.check.settings import check_config
from genesys_jax.evolve.settings import STRATEGIES, evolve_config
from genesys_jax.verify.settings import verify_config


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.evolve = evolve_config()  # seeds, ladder budget, selection, workers
  config.agents = agents_config()  # who designs: the offline designer (no API key needed)
  config.check = check_config()    # the sandboxed checker every new design passes before verification
  config.verify = verify_config()  # how a design is trained and evaluated at a rung
  config.evolve.rungs = ("micro1", "micro2")
  config.evolve.budget.top = 4               # 16 designs at micro1, the best 4 promoted to micro2
  config.evolve.workers.verifiers = 2        # the designer idles once the micro1 budget is designed
  config.evolve.selection.seeds_first = 4    # of 16 designs: then parents come from what did well
  config.verify.diagnostics.enabled = False  # rung-0 diagnostics cost 13-48 s a design on 2 cores
  config.verify.diagnostics.scale = "micro2"  # when enabled: the size the CPU calibration measured
  config.verify.eval.max_batches = 16
  config.verify.checkpoint.every_steps = 25

  if arg == "smoke":
    config.evolve.seeds = ("gpt2",)
    config.check.causality_positions = 4
    config.evolve.budget.top = 1
    config.evolve.budget.ratio = 0.5
    config.evolve.workers.verifiers = 1
    config.verify.train.max_steps = 20
    config.verify.eval.max_batches = 4
    config.verify.checkpoint.every_steps = 5
  elif arg:
    raise ValueError(f"unknown config variant {arg!r}; use configs/default.py or configs/default.py:smoke")
  config.lock()
  return config


def get_sweep(arg: str | None = None) -> list[dict[str, object]]:
  """Search seed x selection strategy: is the evolutionary loop better than random search at equal budget?"""
  del arg  # the same study on every variant
  return [{"evolve.seed": seed, "evolve.selection.strategy": strategy} for seed in (0, 1, 2) for strategy in STRATEGIES]
