"""The probes catch what they look for: a leaking unit, an unused parameter, a loss that cannot fall."""

import jax
import jax.numpy as jnp
from flax import nnx

from genesys_jax.check import probes
from genesys_jax.gau.composer import ModelConfig, compose
from genesys_jax.gau.design import design_from_source

LEAKY = '''
import jax.numpy as jnp
from genesys_jax.gau import GAUBase, param

class PeekAhead(GAUBase):
  """Adds the next position's features: non-causal."""
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim, embed_dim), ("embed", "mlp"))
  def _forward(self, X):
    nxt = jnp.pad(X, ((0, 0), (0, 1), (0, 0)))[:, 1:]
    return X + nxt @ self.w[...]

ROOT = PeekAhead
'''

SUBTLE = LEAKY.replace("return X + nxt @ self.w[...]", "return X + 1e-3 * jnp.mean(X, axis=1, keepdims=True)")

UNUSED = '''
from genesys_jax.gau import GAUBase, param

class Idle(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.used = param(rngs, (embed_dim,), ("embed",))
    self.unused = param(rngs, (embed_dim,), ("embed",))
  def _forward(self, X):
    return X * self.used[...]

ROOT = Idle
'''


def _model(src):
  return compose(design_from_source(src, name="probe"), ModelConfig(16, 1, 32))


def test_causality_probe_finds_leaks():
  tokens = jax.random.randint(jax.random.key(0), (2, 10), 0, 32)
  assert probes.causality_leaks(probes.jitted_forward(_model(LEAKY)), tokens, range(9), 32) == list(range(9))


def test_jacobian_probe_finds_a_leak_too_small_for_tolerance():
  block = design_from_source(SUBTLE, name="probe").materialize().build_block(16, (0, 1), nnx.Rngs(0))
  leaks = probes.jacobian_leaks(block, jax.random.normal(jax.random.key(0), (1, 6, 16)))
  assert (0, 5) in leaks and len(leaks) == 15


def test_gradient_probe_reports_unused_parameters():
  report = probes.gradient_report(_model(UNUSED), jnp.zeros((1, 8), jnp.int32) + 3)
  assert report.zero == ["blocks.0.unused"] and report.nonfinite == []


def test_cycle_batches_follow_one_cycle():
  batches = probes.cycle_batches(jax.random.key(0), 3, 2, 40, 50, period=8)
  assert len(batches) == 3 and batches[0].shape == (2, 40)
  successor = {}
  for b in batches:
    assert bool(jnp.all(b[:, 8:16] == b[:, :8]))
    for cur, nxt in zip(b.reshape(-1)[:-1].tolist(), b.reshape(-1)[1:].tolist()):
      successor.setdefault(cur, set()).add(nxt)
  assert len(successor) == 8
