"""Every seed at two micro sizes: forward shapes, causality, gradients to every parameter, unit tests."""

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from genesys_jax.check import probes
from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.units.seeds import SEED_NAMES, seed_design

SIZES = [ModelConfig(32, 2, 260), ModelConfig(64, 3, 260)]
LENGTH = 40


@pytest.fixture(scope="module", params=SEED_NAMES)
def seed(request):
  return seed_design(request.param).materialize()


def _tokens(key, batch=2, length=LENGTH):
  return jax.random.randint(jax.random.key(key), (batch, length), 0, 260)


@pytest.mark.parametrize("config", SIZES, ids=["d32x2", "d64x3"])
def test_forward_shape_and_finite(seed, config):
  model = LanguageModel(seed, config, rngs=nnx.Rngs(0))
  logits = nnx.jit(lambda m, t: m(t))(model, _tokens(0))
  assert logits.shape == (2, LENGTH, 260)
  assert bool(jnp.all(jnp.isfinite(logits)))


@pytest.mark.parametrize("config", SIZES, ids=["d32x2", "d64x3"])
def test_causal(seed, config):
  model = LanguageModel(seed, config, rngs=nnx.Rngs(0))
  assert probes.causality_leaks(probes.jitted_forward(model), _tokens(1), range(0, LENGTH - 1, 3), 260) == []


def test_block_jacobian_is_lower_triangular(seed):
  block = seed.build_block(32, (0, 1), nnx.Rngs(0))
  assert probes.jacobian_leaks(block, jax.random.normal(jax.random.key(2), (1, 12, 32))) == []


def test_gradient_reaches_every_parameter(seed):
  model = LanguageModel(seed, SIZES[0], rngs=nnx.Rngs(0))
  assert probes.gradient_report(model, _tokens(3)) == probes.GradientReport(nonfinite=[], zero=[])


def test_unit_tests_pass(seed):
  failures = [r for r in seed.run_unit_tests() if r[2] is not None]
  assert not failures, failures


def test_short_training_lowers_loss(seed):
  model = LanguageModel(seed, SIZES[0], rngs=nnx.Rngs(0))
  batches = probes.cycle_batches(jax.random.key(4), 30, 4, 64, 260)
  losses = probes.short_training(model, batches, 3e-3)
  assert losses[-1] < 0.7 * losses[0], losses
