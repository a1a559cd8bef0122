"""Every run config loads as absl loads it, is locked and valid, has the paper's budgets, sizes every seed
at every rung, and lowers the GPT seed's training step at its lowest and top rung under its own mesh."""

import functools
import importlib.util
import pathlib
import types

import jax
import ml_collections
import pytest
from flax import nnx

from genesys_jax.evolve.settings import budgets, validate_run
from genesys_jax.gau.composer import LanguageModel
from genesys_jax.gau.scales import LADDERS, get_scale
from genesys_jax.gau.sizing import autosize
from genesys_jax.units.seeds import SEED_NAMES, seed_design
from genesys_jax.verify import optim, settings
from genesys_jax.verify.run import make_plan
from genesys_jax.verify.steps import compute_dtype, lower_steps
from genesys_jax.verify.tokenizer import make_tokenizer

CONFIGS = pathlib.Path(__file__).parents[1] / "configs"
PAPER_BUDGETS = {"14M": 256, "31M": 64, "70M": 16, "125M": 4, "350M": 1}
PAPER_SPECS = ("paper", "paper:offline", "paper:random", "paper:offline,random", "gpu", "gpu:offline", "tpu",
               "tpu:slice", "tpu:offline,slice")
SPECS = ("default", "default:smoke", *PAPER_SPECS)
MESHED = ("default", "default:smoke", "paper", "gpu", "tpu", "tpu:slice")
"""One config per mesh and data setup (the variants change only the designer and selection)."""
BAND_TESTED = 0.2
"""The parameter band tests/gau/test_sizing.py checks every seed against at every rung."""


def _module(name: str) -> types.ModuleType:
  """The config file `configs/<name>.py`, executed as absl's config_flags executes it."""
  spec = importlib.util.spec_from_file_location(f"{name}_config", CONFIGS / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@functools.cache
def load(spec: str) -> ml_collections.ConfigDict:
  """`name` or `name:arg`: config_flags calls `get_config()` or `get_config(arg)`."""
  name, *arg = spec.split(":", 1)
  return _module(name).get_config(*arg)


@functools.cache
def _size_ratio(seed: str, rung: str, tolerance: float) -> float:
  return autosize(seed_design(seed).materialize(), get_scale(rung), tolerance).ratio


def test_every_config_file_is_covered():
  assert {spec.split(":")[0] for spec in SPECS} == {p.stem for p in CONFIGS.glob("*.py")}


@pytest.mark.parametrize("spec", SPECS)
def test_config_is_locked_valid_and_its_budget_narrows_up_the_ladder(spec):
  config = load(spec)
  assert config.is_locked
  validate_run(config)
  per_rung = list(budgets(config.evolve).values())
  assert per_rung == sorted(per_rung, reverse=True) and per_rung[-1] == config.evolve.budget.top
  if spec in PAPER_SPECS:
    assert budgets(config.evolve) == PAPER_BUDGETS


@pytest.mark.parametrize("spec", SPECS)
def test_every_seed_sizes_within_tolerance_at_every_rung(spec):
  """tests/gau/test_sizing.py sizes every seed at every rung of both ladders within +-20%, and autosizing
  with a looser tolerance can only stop sooner; a stricter config is sized here."""
  config = load(spec)
  tolerance = config.evolve.size_tolerance
  assert set(config.evolve.seeds) <= set(SEED_NAMES)
  assert set(config.evolve.rungs) <= {s.name for s in LADDERS[config.evolve.ladder]}
  if tolerance >= BAND_TESTED:
    return
  for seed in config.evolve.seeds:
    for rung in config.evolve.rungs:
      assert abs(_size_ratio(seed, rung, tolerance) - 1) <= tolerance, (seed, rung)


@pytest.mark.parametrize("spec", ["paper", "paper:offline,random", "gpu:offline", "tpu"])
def test_paper_configs_follow_the_paper(spec):
  config = load(spec)
  assert config.evolve.ladder == "paper" and config.evolve.budget.reference_seeds == 2
  assert len(config.evolve.seeds) == 5
  assert config.check.scale == "14M"
  assert (config.verify.data.source, config.verify.data.tokenizer) == ("tfds", "sentencepiece")
  assert {"hellaswag", "piqa", "arc_easy", "arc_challenge", "winogrande"} <= set(config.verify.eval.tfds_tasks)
  assert config.verify.diagnostics.enabled
  designer = "offline" if "offline" in spec else "llm"
  assert config.agents.designer == designer and (config.agents.budget_usd > 0) == (designer == "llm")


def test_variants_switch_designer_and_selection():
  assert load("paper").evolve.selection.strategy == "evolution"
  assert load("paper:random").evolve.selection.strategy == "random"
  assert load("paper:random").agents.designer == "llm"


def test_the_slice_variant_leaves_verifying_to_every_host_over_one_mesh():
  one, whole = load("tpu"), load("tpu:offline,slice")
  assert one.evolve.workers.verifiers == 1 and whole.evolve.workers.verifiers == 0
  assert whole.verify.mesh.to_dict() == {"data": -1, "fsdp": 4, "tensor": 1} and whole.agents.designer == "offline"


@pytest.mark.parametrize("name", ["default", "paper", "gpu", "tpu"])
def test_unknown_variant_names_the_choices(name):
  with pytest.raises(ValueError, match="unknown config variant.*(smoke|offline, random)"):
    _module(name).get_config("bogus")


@pytest.mark.parametrize("spec", MESHED)
def test_gpt_train_step_lowers_at_the_lowest_and_top_rung_under_the_config_mesh(spec):
  """Shapes only: no weight is allocated and nothing compiles (the 350M step lowers in ~5 s)."""
  c = load(spec).verify
  assert jax.device_count() == 8
  mesh, rules = settings.make_run_mesh(c), settings.sharding_rules(c)
  md = seed_design("gpt2").materialize()
  rungs = load(spec).evolve.rungs
  for rung in (rungs[0], rungs[-1]):
    scale = get_scale(rung)
    # A sentencepiece config names a model the user trains (32k pieces); only the vocabulary size counts here.
    tokenizer = (make_tokenizer(c.data.tokenizer) if c.data.tokenizer == "byte"
                 else types.SimpleNamespace(vocab_size=scale.vocab_size))
    plan = make_plan(md, scale, c, tokenizer)
    assert plan.batch % 8 == 0 and plan.length == scale.seq_len
    schedule = optim.learning_rate_schedule(plan.learning_rate, plan.warmup_steps, plan.total_steps,
                                            c.train.final_lr_fraction)
    tx = optim.adamw(schedule, b1=c.train.b1, b2=c.train.b2, weight_decay=c.train.weight_decay,
                     clip_norm=c.train.clip_norm)
    lowered = lower_steps(lambda: LanguageModel(md, plan.model, rngs=nnx.Rngs(0)), tx, schedule, mesh, rules,
                          plan.batch, plan.length, compute_dtype("bfloat16"))
    assert isinstance(lowered.train_step, jax.stages.Lowered)
    params = nnx.state(lowered.abstract_state[0], nnx.Param)
    assert sum(x.size for x in jax.tree.leaves(params)) == plan.params
    batch_axes = tuple(a for a in ("data", "fsdp") if mesh.shape[a] > 1)  # rows split over both, where both are
    assert lowered.batch_sharding.spec[0] == (batch_axes[0] if len(batch_axes) == 1 else batch_axes)
    embed_spec = lowered.state_sharding[0]["embed"].spec
    assert ("fsdp" in embed_spec) == (mesh.shape["fsdp"] > 1), embed_spec  # weights split over fsdp only
