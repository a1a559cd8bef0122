"""The compile gate: gradient accumulation that gives the whole batch's update, the micro-batch it picks
when memory is capped, and evaluation of a paper-shaped batch whose logits never leave the program."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.sharding import DEFAULT_RULES, make_mesh
from genesys_jax.units.seeds import seed_design
from genesys_jax.verify import corpus, optim, pipeline
from genesys_jax.verify.compile_gate import DoesNotFit, build_steps, micro_batch_candidates
from genesys_jax.verify.steps import lower_steps
from genesys_jax.verify.tokenizer import ByteTokenizer

CONFIG = ModelConfig(64, 2, 260)
BATCH, LENGTH = 16, 32


def _optimizer():
  schedule = optim.learning_rate_schedule(3e-3, 2, 10)
  return optim.adamw(schedule, b1=0.9, b2=0.95, weight_decay=0.1, clip_norm=1.0), schedule


def _factory(config=CONFIG):
  md = seed_design("gpt2").materialize()
  return lambda: LanguageModel(md, config, rngs=nnx.Rngs(0))


def _steps(mesh, batch=BATCH, length=LENGTH, config=CONFIG, **gate):
  tx, schedule = _optimizer()
  return build_steps(_factory(config), tx, schedule, mesh, DEFAULT_RULES, batch, length, jnp.float32, **gate)


def _batches(n=3, batch=BATCH):
  it = iter(pipeline.lm_dataset(corpus.bundled_documents("train"), ByteTokenizer(), LENGTH, batch, train=True))
  return [next(it) for _ in range(n)]


def _one_device():
  return make_mesh({"data": 1}, jax.devices()[:1])


def _params(steps):
  return jax.tree.leaves(jax.device_get(nnx.state(steps.state[0], nnx.Param)))


def _trained(steps, batches):
  """Losses, and how far the parameters moved."""
  start = _params(steps)
  losses = [float(steps.train(b)["loss"]) for b in batches]
  return losses, [end - begin for end, begin in zip(_params(steps), start)]


@pytest.fixture(scope="module")
def whole_batch():
  steps = _steps(_one_device())
  assert steps.accumulation == 1
  return _trained(steps, _batches())


@pytest.mark.parametrize("mesh_shape, micro", [({"data": 1}, 4), ({"data": 4}, 8), ({"data": 2, "fsdp": 2}, 4)],
                         ids=["one-device-k4", "data-k2", "data-fsdp-k4"])
def test_micro_batches_give_the_update_of_the_whole_batch(whole_batch, mesh_shape, micro):
  devices = 1
  for size in mesh_shape.values():
    devices *= size
  steps = _steps(make_mesh(mesh_shape, jax.devices()[:devices]), micro_batch=micro)
  assert steps.accumulation == BATCH // micro
  losses, moves = _trained(steps, _batches())
  np.testing.assert_allclose(losses, whole_batch[0], rtol=1e-5)
  for got, want in zip(moves, whole_batch[1]):  # Adam divides by the gradients' size: a near-zero one's move
    np.testing.assert_allclose(got, want, atol=1e-3 * np.abs(want).max())  # shows the sums' order


def test_the_gate_accumulates_when_memory_is_capped(whole_batch):
  mesh = _one_device()
  tx, schedule = _optimizer()
  memory = {}
  for micro in (16, 8, 4):
    compiled = lower_steps(_factory(), tx, schedule, mesh, DEFAULT_RULES, BATCH, LENGTH, jnp.float32,
                           micro_batch=micro).train_step.compile()
    mem = compiled.memory_analysis()
    memory[micro] = (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
                     - mem.alias_size_in_bytes)
  assert memory[16] > memory[8] > memory[4]
  allowed = (memory[8] + memory[4]) / 2   # 4 rows fit, 8 do not
  steps = _steps(mesh, memory_fraction=0.5, memory_limit=int(2 * allowed))
  assert (steps.micro_batch, steps.accumulation) == (4, 4)
  assert steps.memory_bytes <= allowed
  assert steps.flops_per_step == pytest.approx(_steps(mesh).flops_per_step, rel=0.05)  # the whole step's FLOPs
  losses, _ = _trained(steps, _batches())
  np.testing.assert_allclose(losses, whole_batch[0], rtol=1e-5)


def test_a_step_that_does_not_fit_at_one_row_is_refused_with_its_figures():
  with pytest.raises(DoesNotFit, match=r"needs .* GiB per device at 1 row per micro-batch") as info:
    _steps(_one_device(), memory_limit=1000)
  figures = info.value.figures
  assert figures["micro_batch"] == 1 and figures["limit_bytes"] == 1000 and figures["needed_bytes"] > 1000
  assert "16" in figures["tried"] and "1" in figures["tried"]
  assert len(figures["tried"]) < len(micro_batch_candidates(BATCH, 1))  # guessed down, not every size tried


def test_micro_batches_are_divisors_that_every_shard_can_hold():
  assert micro_batch_candidates(16, 1) == [16, 8, 4, 2, 1]
  assert micro_batch_candidates(24, 4) == [24, 12, 8, 4]
  assert micro_batch_candidates(6, 4) == []
  with pytest.raises(ValueError, match="does not split over the 4 ways"):
    _steps(make_mesh({"data": 4}, jax.devices()[:4]), batch=6)
  with pytest.raises(ValueError, match="micro-batch of 3 rows must divide the batch of 16"):
    _steps(_one_device(), micro_batch=3)


def test_a_paper_shaped_evaluation_keeps_its_logits_inside_the_program():
  """2048 tokens a row at a reduced vocabulary, on two devices; the gate holds the steps below what a
  device's share of the batch's float32 logits would take twice over (no step holds all of them)."""
  batch, length, config = 8, 2048, ModelConfig(32, 1, 1024)
  logits_bytes = batch * length * config.vocab_size * 4 // 2   # per device
  steps = _steps(make_mesh({"data": 2}, jax.devices()[:2]), batch=batch, length=length, config=config,
                 memory_fraction=1.0, memory_limit=2 * logits_bytes)
  assert steps.accumulation > 1
  assert all(out.shape == () for out in jax.tree.leaves(steps.eval_step.out_info))
  assert {k: v.shape for k, v in steps.score_step.out_info.items()} == {"loglik": (batch,), "greedy": (batch,)}
  for compiled in (steps.eval_step, steps.score_step):
    mem = compiled.memory_analysis()
    assert mem.temp_size_in_bytes + mem.output_size_in_bytes < logits_bytes
  tokens = np.zeros((batch, length), np.int32)
  loglik, greedy = steps.score(tokens, np.ones((batch, length), bool))
  assert loglik.shape == (batch,) and np.all(np.isfinite(loglik)) and greedy.dtype == bool
