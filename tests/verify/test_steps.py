"""The compiled steps: sharding equivalence on 8 fake CPU devices, precision, evaluation sums, scoring."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.sharding import DEFAULT_RULES, make_mesh
from genesys_jax.units.seeds import seed_design
from genesys_jax.verify import corpus, optim, pipeline
from genesys_jax.verify.compile_gate import build_steps
from genesys_jax.verify.steps import compute_dtype
from genesys_jax.verify.tokenizer import ByteTokenizer

CONFIG = ModelConfig(64, 2, 260)  # two heads of 32, so tensor parallelism has heads to split
BATCH, LENGTH = 8, 32


def _steps(mesh, dtype=jnp.float32, memory_fraction=0.9, scored_per_row=0):
  md = seed_design("gpt2").materialize()
  schedule = optim.learning_rate_schedule(3e-3, 2, 10)
  tx = optim.adamw(schedule, b1=0.9, b2=0.95, weight_decay=0.1, clip_norm=1.0)
  return build_steps(lambda: LanguageModel(md, CONFIG, rngs=nnx.Rngs(0)), tx, schedule, mesh, DEFAULT_RULES,
                     BATCH, LENGTH, dtype, memory_fraction, scored_per_row)


def _logits(steps, tokens_BxL):
  """The current model's float32 logits, computed outside the steps (as a reference)."""
  return np.asarray(nnx.merge(steps.graphdef, steps.state)[0](jnp.asarray(tokens_BxL)), np.float32)


def _batches(n=3):
  it = iter(pipeline.lm_dataset(corpus.bundled_documents("train"), ByteTokenizer(), LENGTH, BATCH, train=True))
  return [next(it) for _ in range(n)]


def _losses(steps, batches):
  return [float(steps.train(b)["loss"]) for b in batches]


@pytest.fixture(scope="module")
def reference_losses():
  return _losses(_steps(make_mesh({"data": 1}, jax.devices()[:1])), _batches())


@pytest.mark.parametrize("shape", [{"data": 8}, {"fsdp": 8}, {"data": 4, "tensor": 2},
                                   {"data": 2, "fsdp": 2, "tensor": 2}],
                         ids=["data", "fsdp", "tensor", "all-three"])
def test_sharded_training_matches_one_device(shape, reference_losses):
  steps = _steps(make_mesh(shape))
  losses = _losses(steps, _batches())
  np.testing.assert_allclose(losses, reference_losses, rtol=2e-5)
  embed = steps.state[0]["embed"]
  if shape.get("tensor", 1) > 1:   # the vocab rows are split over the tensor axis
    assert embed.sharding.spec[0] == "tensor"
  if shape.get("fsdp", 1) > 1:     # the embedding dimension is split over fsdp
    assert "fsdp" in str(embed.sharding.spec)


def test_training_lowers_the_loss_and_keeps_float32_master_weights_under_bfloat16():
  steps = _steps(make_mesh({"data": 1}, jax.devices()[:1]), dtype=jnp.bfloat16)
  batches = _batches(1) * 6
  losses = _losses(steps, batches)
  assert losses[-1] < losses[0] - 0.3
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(steps.state[0], nnx.Param)))
  loglik, _ = steps.score(batches[0]["inputs"], batches[0]["weights"] > 0)
  assert loglik.dtype == np.float32 and np.all(np.isfinite(loglik))


def test_eval_step_sums_weighted_loss_bytes_and_hits():
  steps = _steps(make_mesh({"data": 1}, jax.devices()[:1]))
  batch = _batches(1)[0]
  batch["weights"][:, : LENGTH // 2] = 0
  sums = jax.device_get(steps.evaluate(batch))
  assert sums["weight_sum"] == batch["weights"].sum()
  assert sums["byte_sum"] == (batch["target_bytes"] * batch["weights"]).sum()
  logits = _logits(steps, batch["inputs"])
  shifted = logits - logits.max(-1, keepdims=True)
  logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
  ce = -np.take_along_axis(logp, batch["targets"][..., None], -1)[..., 0]
  assert sums["loss_sum"] == pytest.approx((ce * batch["weights"]).sum(), rel=1e-5)
  assert sums["correct_sum"] == ((logits.argmax(-1) == batch["targets"]) * batch["weights"]).sum()


def test_compute_dtype_names():
  assert compute_dtype("auto") == jnp.float32  # CPU
  assert compute_dtype("bfloat16") == jnp.bfloat16
  with pytest.raises(ValueError, match="unknown compute dtype"):
    compute_dtype("fp8")


def test_schedule_warms_up_then_decays_to_a_tenth():
  s = optim.learning_rate_schedule(1.0, 10, 100)
  assert float(s(0)) == pytest.approx(0.1) and float(s(10)) == pytest.approx(1.0)
  assert float(s(100)) == pytest.approx(0.1) and float(s(55)) < 1.0


def test_scoring_only_the_weighted_positions_gives_the_same_steps():
  rng = np.random.default_rng(0)
  batches = []
  for b in _batches():
    weights = np.zeros((BATCH, LENGTH), np.float32)
    for row in range(BATCH):  # rows score 1 to 5 positions; the head then sees 5 positions a row
      weights[row, rng.choice(LENGTH, 1 + row % 5, replace=False)] = 1.0
    batches.append({**b, "weights": weights})
  one = make_mesh({"data": 1}, jax.devices()[:1])
  every, scored = _steps(one), _steps(one, scored_per_row=5)
  assert scored.flops_per_step < 0.9 * every.flops_per_step  # the head runs on 5 positions a row, not 32
  np.testing.assert_allclose(_losses(scored, batches), _losses(every, batches), rtol=1e-5)
  for k, v in jax.device_get(every.evaluate(batches[0])).items():
    np.testing.assert_allclose(jax.device_get(scored.evaluate(batches[0]))[k], v, rtol=1e-5)


def test_scoring_step_gives_each_rows_continuation_loglikelihood_and_greedy_match():
  steps = _steps(make_mesh({"data": 8}))
  tokens = _batches(1)[0]["inputs"]
  continuation = np.zeros_like(tokens, bool)
  continuation[:, LENGTH // 2:] = True
  continuation[0, :] = False
  continuation[0, 1] = True   # a one-token continuation
  loglik, greedy = steps.score(tokens, continuation)
  logits = _logits(steps, tokens)[:, :-1]
  logp = np.asarray(jax.nn.log_softmax(logits, axis=-1))
  token_logp = np.take_along_axis(logp, tokens[:, 1:, None], -1)[..., 0]
  np.testing.assert_allclose(loglik, (token_logp * continuation[:, 1:]).sum(-1), rtol=1e-5)
  hits = (logits.argmax(-1) == tokens[:, 1:]) | ~continuation[:, 1:]
  assert greedy.tolist() == hits.all(-1).tolist()
