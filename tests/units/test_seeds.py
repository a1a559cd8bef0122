"""Every seed at two micro sizes: forward shapes, causality, gradients to every parameter, unit tests."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

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
  graphdef, state = nnx.split(model)
  forward = jax.jit(lambda t: nnx.merge(graphdef, state)(t))
  tokens = _tokens(1)
  base = forward(tokens)
  for t in range(0, LENGTH - 1, 3):
    changed = tokens.at[:, t + 1:].set((tokens[:, t + 1:] + 7) % 260)
    out = forward(changed)
    np.testing.assert_allclose(out[:, :t + 1], base[:, :t + 1], atol=1e-5, rtol=1e-5,
                               err_msg=f"outputs up to {t} changed when inputs after {t} changed")
    assert not np.allclose(out[:, t + 1:], base[:, t + 1:]), "later outputs should depend on later inputs"


def test_block_jacobian_is_lower_triangular(seed):
  block = seed.build_block(32, (0, 1), nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(2), (1, 12, 32))
  graphdef, state = nnx.split(block)
  jac = jax.jit(jax.jacrev(lambda v: nnx.merge(graphdef, state)(v)[0]))(x)[0, :, :, 0, :, :]  # [t, d, s, e]
  influence_TxS = jnp.max(jnp.abs(jac), axis=(1, 3))
  leak = jnp.triu(influence_TxS, k=1)
  assert float(jnp.max(leak)) == 0.0, f"output t depends on input s > t: {np.argwhere(np.asarray(leak) > 0)}"
  assert float(jnp.min(jnp.diag(influence_TxS))) > 0.0


def test_gradient_reaches_every_parameter(seed):
  model = LanguageModel(seed, SIZES[0], rngs=nnx.Rngs(0))
  tokens = _tokens(3)

  def loss_fn(m):
    logits = m(tokens[:, :-1])
    return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()

  grads = nnx.jit(nnx.grad(loss_fn))(model)
  for path, g in nnx.to_flat_state(nnx.state(grads, nnx.Param)):
    value = np.asarray(g[...])
    assert np.all(np.isfinite(value)), f"non-finite gradient at {path}"
    assert np.any(value != 0), f"no gradient reaches {path}"


def test_unit_tests_pass(seed):
  failures = [r for r in seed.run_unit_tests() if r[2] is not None]
  assert not failures, failures


def test_short_training_lowers_loss(seed):
  model = LanguageModel(seed, SIZES[0], rngs=nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)
  pattern = jnp.tile(jnp.arange(16), (4, 5))[:, :LENGTH]  # a sequence a causal model can learn

  @nnx.jit
  def step(m, opt):
    def loss_fn(m):
      logits = m(pattern[:, :-1])
      return optax.softmax_cross_entropy_with_integer_labels(logits, pattern[:, 1:]).mean()
    loss, grads = nnx.value_and_grad(loss_fn)(m)
    opt.update(m, grads)
    return loss

  losses = [float(step(model, optimizer)) for _ in range(30)]
  assert losses[-1] < 0.5 * losses[0], losses
