"""Dynamic probes of a composed language model, used by the checker, the seed verification and tests.

Each probe runs jitted code on a small model and returns plain Python data describing what it found.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from genesys_jax.gau.composer import LanguageModel
from genesys_jax.units.library import UNIT_FILES


def next_token_loss(model: LanguageModel, tokens_BxL: jax.Array) -> jax.Array:
  """Mean cross-entropy of predicting each token from those before it."""
  logits = model(tokens_BxL[:, :-1])
  return optax.softmax_cross_entropy_with_integer_labels(logits, tokens_BxL[:, 1:]).mean()


def fast_compile_options() -> dict[str, int]:
  """Compiler options for programs that run only a few times (the checker's probes): on a CPU, LLVM's
  optimizations off, which takes a third off a check. XLA's graph passes still run, so FLOPs and memory
  figures are those of the optimized program; programs compared by time are compiled alike."""
  return {"xla_backend_optimization_level": 0} if jax.default_backend() == "cpu" else {}


def jitted_forward(model: nnx.Module, compiler_options: dict | None = None) -> Callable[[jax.Array], jax.Array]:
  """`tokens -> logits` for `model` as one jitted function (compiled once per input shape)."""
  graphdef, state = nnx.split(model)
  forward = jax.jit(lambda s, t: nnx.merge(graphdef, s)(t), compiler_options=compiler_options)
  return lambda tokens: forward(state, tokens)


def causality_leaks(forward: Callable[[jax.Array], jax.Array], tokens_BxL: jax.Array, positions: Sequence[int],
                    vocab: int, atol: float = 1e-5) -> list[int]:
  """Positions t whose outputs up to t change when the tokens after t change (should be none).

  The changed inputs are made on the host: one compiled forward serves every position."""
  tokens = np.asarray(tokens_BxL)
  base = np.asarray(forward(tokens))
  leaks = []
  for t in positions:
    changed = tokens.copy()
    changed[:, t + 1:] = (tokens[:, t + 1:] + 1 + t) % vocab
    out = np.asarray(forward(changed))
    if not np.allclose(out[:, :t + 1], base[:, :t + 1], atol=atol, rtol=atol):
      leaks.append(int(t))
  return leaks


def jacobian_leaks(block: nnx.Module, x_BxLxD: jax.Array, compiler_options: dict | None = None
                   ) -> list[tuple[int, int]]:
  """(t, s) pairs with s > t where output t of `block` has a non-zero derivative in input s."""
  graphdef, state = nnx.split(block)
  return function_jacobian_leaks(lambda v: nnx.merge(graphdef, state)(v)[0], x_BxLxD, compiler_options)


def function_jacobian_leaks(fn: Callable[[jax.Array], jax.Array], x_BxLxD: jax.Array,
                            compiler_options: dict | None = None, seed: int = 0) -> list[tuple[int, int]]:
  """(t, s) pairs with s > t where output t of `fn` (a block's `X -> Y`) has a non-zero derivative in input s.

  One vector-Jacobian product per output position t, with a random cotangent on position t only: the
  result at input s is non-zero exactly when some derivative of output t in input s is (a random
  combination cancels with probability zero). Products are mapped sequentially, so `fn` needs no batching
  rule (an exported program has none)."""
  y = jax.eval_shape(fn, x_BxLxD)  # the output may be of another dtype (float32 parameters promote)
  length = y.shape[1]
  noise = jax.random.normal(jax.random.key(seed), (length,) + y.shape, y.dtype)
  cotangents_TxBxLxD = noise * jax.nn.one_hot(jnp.arange(length), length, dtype=y.dtype)[:, None, :, None]

  def influence(x, cotangents):
    _, pullback = jax.vjp(fn, x)
    return jax.lax.map(lambda ct: jnp.max(jnp.abs(pullback(ct)[0]), axis=(0, 2)), cotangents)

  influence_TxS = np.asarray(jax.jit(influence, compiler_options=compiler_options)(x_BxLxD, cotangents_TxBxLxD))
  return [(int(t), int(s)) for t, s in np.argwhere(np.triu(influence_TxS, k=1) > 0)]


@dataclasses.dataclass(frozen=True)
class GradientReport:
  """Parameters whose gradient is non-finite or exactly zero for a batch."""

  nonfinite: list[str]
  zero: list[str]


def gradient_report(model: LanguageModel, tokens_BxL: jax.Array, compiler_options: dict | None = None
                    ) -> GradientReport:
  """Which parameters get no gradient (unused) or a non-finite one from the next-token loss."""
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  with_paths = nnx.to_flat_state(params)
  names = [".".join(map(str, path)) for path, _ in with_paths]
  loss = lambda p, t: next_token_loss(nnx.merge(graphdef, nnx.from_flat_state(list(zip(
      [path for path, _ in with_paths], p))), rest), t)
  return loss_gradient_report(loss, [v for _, v in with_paths], names, tokens_BxL, compiler_options)


def loss_gradient_report(loss: Callable[[list, jax.Array], jax.Array], params: list, names: Sequence[str],
                         tokens_BxL: jax.Array, compiler_options: dict | None = None) -> GradientReport:
  """Which of `params` (named `names`) get no gradient or a non-finite one from `loss(params, tokens)`."""
  grads = jax.jit(jax.grad(loss), compiler_options=compiler_options)(params, tokens_BxL)
  nonfinite, zero = [], []
  for name, g in zip(names, grads):
    value = np.asarray(g[...])
    if not np.all(np.isfinite(value)):
      nonfinite.append(name)
    elif not np.any(value != 0):
      zero.append(name)
  return GradientReport(nonfinite, zero)


def short_training(model: LanguageModel, batches: Sequence[jax.Array], learning_rate: float) -> list[float]:
  """AdamW on `batches` in order, one step each; returns the loss before each step."""
  return compile_train_step(model, learning_rate, batches[0]).time_steps(batches)[0]


def cycle_batches(key: jax.Array, n: int, batch: int, length: int, vocab: int,
                  period: int = 16) -> list[jax.Array]:
  """Synthetic batches a causal model learns in a few steps: one random cycle of `period` distinct
  tokens, each row starting at a random phase (the next token is a function of the current one)."""
  cycle_key, phase_key = jax.random.split(key)
  cycle = jax.random.permutation(cycle_key, vocab)[:period]
  phases = jax.random.randint(phase_key, (n, batch, 1), 0, period)
  positions = (phases + jnp.arange(length)) % period
  return list(cycle[positions])


def library_text() -> bytes:
  """Real text that ships with the install: the unit library's source files, concatenated.

  Stands in for the default corpus in short probes until the data pipeline's corpus exists.
  """
  root = importlib.resources.files("genesys_jax.units")
  return b"\n\n".join(root.joinpath(f).read_bytes() for f in sorted(set(UNIT_FILES.values())))


def text_batches(text: bytes, key: jax.Array, n: int, batch: int, length: int) -> list[jax.Array]:
  """`n` batches of random byte windows of `length` tokens from `text` (byte value = token id)."""
  data = jnp.asarray(np.frombuffer(text, dtype=np.uint8).astype(np.int32))
  starts = jax.random.randint(key, (n, batch), 0, data.shape[0] - length)
  return list(data[starts[..., None] + jnp.arange(length)])


@dataclasses.dataclass
class CompiledStep:
  """A compiled AdamW training step with its state and XLA's figures for it."""

  step: jax.stages.Compiled
  state: Any  # (parameters, optimizer state)
  compile_seconds: float
  memory_bytes: int | None
  flops: float | None

  def __call__(self, tokens: jax.Array) -> jax.Array:
    self.state, loss = self.step(self.state, tokens)
    return loss

  def time_steps(self, batches: Sequence[jax.Array]) -> tuple[list[float], list[float]]:
    """Runs one step per batch; returns losses and per-step seconds (each step waited for)."""
    losses, seconds = [], []
    for tokens in batches:
      start = time.perf_counter()
      losses.append(float(self(tokens)))
      seconds.append(time.perf_counter() - start)
    return losses, seconds


def compile_train_step(model: LanguageModel, learning_rate: float, tokens: jax.Array,
                       compiler_options: dict | None = None) -> CompiledStep:
  """Lowers and compiles one AdamW step of `model`'s next-token loss on batches shaped like `tokens`."""
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  return compile_loss_step(lambda p, t: next_token_loss(nnx.merge(graphdef, p, rest), t), params,
                           learning_rate, tokens, compiler_options)


def compile_loss_step(loss: Callable[[Any, jax.Array], jax.Array], params: Any, learning_rate: float,
                      tokens: jax.Array, compiler_options: dict | None = None) -> CompiledStep:
  """Lowers and compiles one AdamW step of `loss(params, tokens)`, reading XLA's memory and FLOPs."""
  tx = optax.adamw(learning_rate)

  def step(state, tokens: jax.Array):
    p, opt_state = state
    value, grads = jax.value_and_grad(loss)(p, tokens)
    updates, opt_state = tx.update(grads, opt_state, p)
    return (optax.apply_updates(p, updates), opt_state), value

  state = (params, tx.init(params))
  start = time.perf_counter()
  compiled = jax.jit(step, donate_argnums=0).lower(state, tokens).compile(compiler_options)
  seconds = time.perf_counter() - start
  mem = compiled.memory_analysis()
  memory = None if mem is None else int(mem.temp_size_in_bytes + mem.argument_size_in_bytes
                                         + mem.output_size_in_bytes - mem.alias_size_in_bytes)
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) and cost else cost
  flops = float(cost["flops"]) if cost and "flops" in cost else None
  return CompiledStep(compiled, state, seconds, memory, flops)
