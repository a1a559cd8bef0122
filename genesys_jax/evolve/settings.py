"""The `evolve` section of a config: seeds, the ladder and its narrowing budget, selection, workers, store.

Configs include it with `config.evolve = evolve_config()` and override fields after.
"""

from __future__ import annotations

import ml_collections

from genesys_jax.agents import settings as agents_settings
from genesys_jax.agents.proposal import OPERATORS
from genesys_jax.check.sandbox import Limits, isolation
from genesys_jax.check.settings import settings_of
from genesys_jax.evolve.store_location import check_store_url
from genesys_jax.gau.scales import LADDERS
from genesys_jax.units.seeds import SEED_NAMES
from genesys_jax.verify import settings as verify_settings

STRATEGIES = ("evolution", "random")
"""evolution: fitness-driven parents and promotions; random: the same operators, parents and promotions
drawn uniformly (the non-evolutionary baseline of the quality benchmark)."""


def evolve_config() -> ml_collections.ConfigDict:
  """The paper's selection rules on the CPU micro-ladder."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.seeds = SEED_NAMES                 # seed designs: verified first, outside the budget, as references
  c.ladder = "micro"
  c.rungs = ("micro1", "micro2", "micro3")  # the rungs this run climbs, lowest first
  c.size_tolerance = 0.2
  c.store_url = ""                     # "": SQLite in the run directory; postgresql://USER@HOST/DB: a server
                                       # that workers on other hosts share (store_location.py)

  c.budget = ml_collections.ConfigDict()
  c.budget.top = 1                     # verifications at the highest rung
  c.budget.ratio = 0.25                # each rung's budget is this fraction of the one below (paper: 0.25)
  c.budget.reference_seeds = 1         # the best seeds at the lowest rung also climb, as reference rows
  c.budget.max_sessions_factor = 3     # design sessions allowed per lowest-rung slot (rejections count)

  c.selection = ml_collections.ConfigDict()
  c.selection.strategy = "evolution"
  c.selection.operator_mix = ml_collections.ConfigDict({"mutation": 0.80, "crossover": 0.15, "scratch": 0.05})
  c.selection.crossover_after = 10     # implemented designs before crossover is allowed
  c.selection.scratch_after = 20
  c.selection.seeds_first = 10         # parents are seeds until this many designs are verified
  c.selection.restart_p = 0.05         # restart from a seed
  c.selection.explore_p = 0.2          # parents: poor-rank, high-confidence; verification: poor-rank, low-confidence
  c.selection.quadrant = 0.25          # top fraction by rank / by confidence that counts as "good" / "high"
  c.selection.noise = 0.05             # background weight in rank-weighted sampling
  c.selection.min_margin = 0.02        # a metric counts only if some design beats the random baseline by this
  c.selection.draw_margin = 0.01       # pairwise differences below this are draws (Massey)

  c.workers = ml_collections.ConfigDict()
  c.workers.designers = 1              # designer threads in the controller (LLM sessions wait on the network)
  c.workers.verifiers = 1              # verifier processes, each owning the devices it trains on (0: none
                                       # here; they are started elsewhere, e.g. on every host of a slice)
  c.workers.visible_devices = ()       # per verifier, the GPUs it owns, e.g. ("0,1,2,3", "4,5,6,7"); () = all
  c.workers.design_ahead = 3           # a design session starts only while fewer new designs wait for their
                                       # lowest-rung verification, so parents come from results; 0: no limit
  c.workers.lease_s = 120.0            # a job whose lease is not renewed within this goes back to the queue
  c.workers.heartbeat_s = 10.0
  c.workers.max_attempts = 3           # a job failing this often is given up (recorded)
  c.workers.status_every_s = 10.0      # how often the status line is printed
  c.workers.report_every_s = 60.0      # how often the HTML report is rewritten during the run
  return c


def budgets(c: ml_collections.ConfigDict) -> dict[str, int]:
  """Verifications per rung: `top` at the highest, divided by `ratio` per rung down (256/64/16/4/1)."""
  n = len(c.rungs)
  return {rung: max(1, round(c.budget.top / c.budget.ratio ** (n - 1 - i))) for i, rung in enumerate(c.rungs)}


def validate(c: ml_collections.ConfigDict) -> None:
  """Raises ValueError with one sentence for the first bad value."""
  if c.ladder not in LADDERS:
    raise ValueError(f"unknown ladder {c.ladder!r}; choose one of {sorted(LADDERS)}")
  ladder = [s.name for s in LADDERS[c.ladder]]
  unknown = [r for r in c.rungs if r not in ladder]
  if not c.rungs or unknown:
    raise ValueError(f"evolve.rungs must name rungs of the {c.ladder} ladder {ladder}; got {list(c.rungs)}")
  if list(c.rungs) != sorted(c.rungs, key=ladder.index) or len(set(c.rungs)) != len(c.rungs):
    raise ValueError("evolve.rungs must be distinct and go from the lowest rung up")
  bad_seeds = [s for s in c.seeds if s not in SEED_NAMES]
  if not c.seeds or bad_seeds:
    raise ValueError(f"unknown seeds {bad_seeds}; seeds are {list(SEED_NAMES)}")
  if c.selection.strategy not in STRATEGIES:
    raise ValueError(f"unknown selection strategy {c.selection.strategy!r}; choose one of {', '.join(STRATEGIES)}")
  mix = c.selection.operator_mix.to_dict()
  if set(mix) != set(OPERATORS) or any(v < 0 for v in mix.values()) or mix["mutation"] <= 0:
    raise ValueError(f"evolve.selection.operator_mix needs non-negative weights for {list(OPERATORS)}, mutation > 0")
  checks = [
      (c.budget.top >= 1, "evolve.budget.top must be at least 1"),
      (0 < c.budget.ratio <= 1, "evolve.budget.ratio must be in (0, 1]"),
      (0 <= c.budget.reference_seeds <= len(c.seeds), "evolve.budget.reference_seeds must be 0..len(seeds)"),
      (c.budget.max_sessions_factor >= 1, "evolve.budget.max_sessions_factor must be at least 1"),
      (0 < c.size_tolerance < 1, "evolve.size_tolerance must be in (0, 1)"),
      (all(0 <= c.selection[k] <= 1 for k in ("restart_p", "explore_p", "noise", "min_margin", "draw_margin")),
       "evolve.selection probabilities and margins must be in [0, 1]"),
      (0 < c.selection.quadrant <= 1, "evolve.selection.quadrant must be in (0, 1]"),
      (c.workers.designers >= 1 and c.workers.verifiers >= 0,
       "evolve.workers need at least 1 designer, and 0 (started elsewhere) or more verifiers"),
      (c.workers.lease_s > 2 * c.workers.heartbeat_s > 0, "evolve.workers.lease_s must exceed twice heartbeat_s"),
      (c.workers.max_attempts >= 1, "evolve.workers.max_attempts must be at least 1"),
      (c.workers.design_ahead >= 0, "evolve.workers.design_ahead must be 0 (no limit) or positive"),
      (not c.workers.visible_devices or len(c.workers.visible_devices) == c.workers.verifiers,
       "evolve.workers.visible_devices needs one entry per verifier (or none)"),
  ]
  for ok, message in checks:
    if not ok:
      raise ValueError(message)
  try:
    check_store_url(c.store_url)
  except ValueError as e:
    raise ValueError(f"evolve.store_url: {e}") from e


def validate_run(config: ml_collections.ConfigDict) -> None:
  """Checks a whole run config (evolve, agents, check, verify); ValueError with one sentence."""
  missing = [k for k in ("evolve", "agents", "check", "verify") if k not in config]
  if missing:
    raise ValueError(f"the config lacks the section(s) {missing}; see configs/default.py")
  validate(config.evolve)
  agents_settings.validate(config.agents)
  settings_of(config.check)
  verify_settings.validate(config.verify)
  allowed = Limits(allow_unisolated=config.check.get("allow_unisolated", False)).unisolated_allowed
  if config.agents.designer != "offline" and not allowed and isolation() != "bubblewrap":
    raise ValueError("bubblewrap is not available on this machine, so LLM-written units would run without "
                     "namespace isolation; install it (apt-get install bubblewrap) or pass "
                     "--config.check.allow_unisolated=True")
