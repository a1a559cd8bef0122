"""The compile gate (MaxText's habit): compile the steps before any memory is spent, take the largest
micro-batch whose training step fits the devices, and only then build the state.

The rows of an optimizer step never change: a step that does not fit at the whole batch is compiled at
smaller micro-batches (gradient accumulation), each guess read from the memory XLA's analysis gave the
tries before it, until one fits or one row per shard does not.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
import psutil
from flax import nnx
from jax.sharding import Mesh, NamedSharding

from genesys_jax.gau.composer import LanguageModel
from genesys_jax.gau.sharding import Rules
from genesys_jax.verify.steps import LoweredSteps, TrainMetrics, lower_steps, rows_per_shard

GiB = 2**30


class DoesNotFit(RuntimeError):
  """The compiled step needs more memory than the devices have, even at the smallest micro-batch."""

  def __init__(self, message: str, figures: dict):
    super().__init__(message)
    self.figures = figures


def device_memory_bytes(device: jax.Device) -> int:
  """Memory one device may use: its allocator's limit on accelerators, the host's share on CPU."""
  stats = device.memory_stats() if device.platform != "cpu" else None
  if stats and "bytes_limit" in stats:
    return int(stats["bytes_limit"])
  return psutil.virtual_memory().available // max(1, jax.local_device_count())


@dataclasses.dataclass
class CompiledSteps:
  """Compiled training, evaluation and scoring steps, the sharded state they run on, and XLA's figures."""

  graphdef: nnx.GraphDef
  state: nnx.State
  train_step: jax.stages.Compiled
  eval_step: jax.stages.Compiled
  score_step: jax.stages.Compiled
  batch_sharding: NamedSharding
  state_sharding: nnx.State
  micro_batch: int
  accumulation: int
  compile_seconds: float
  memory_bytes: int | None
  flops_per_step: float | None

  def put_batch(self, batch: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
    """This process's rows of a batch -> global arrays sharded over the mesh's batch axes."""
    return {k: jax.make_array_from_process_local_data(self.batch_sharding, v) for k, v in batch.items()}

  def train(self, batch: Mapping[str, np.ndarray]) -> TrainMetrics:
    """Dispatches one training step (no wait); returns its metrics as device arrays."""
    self.state, metrics = self.train_step(self.state, self.put_batch(batch))
    return metrics

  def evaluate(self, batch: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
    """Weighted sums of loss, weights, target bytes and correct argmax predictions for a batch."""
    return self.eval_step(self.state, self.put_batch(batch))

  def score(self, tokens_BxL: np.ndarray, continuation_BxL: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a global batch (the same on every process): the continuation's summed log-probability
    and whether each of its tokens is the argmax."""
    rows = tokens_BxL.shape[0] // jax.process_count()
    mine = slice(jax.process_index() * rows, (jax.process_index() + 1) * rows)
    out = jax.device_get(self.score_step(self.state, self.put_batch(
        {"tokens": tokens_BxL[mine], "continuation": continuation_BxL[mine]})))
    return np.asarray(out["loglik"]), np.asarray(out["greedy"])


def micro_batch_candidates(batch: int, rows_multiple: int) -> list[int]:
  """The micro-batches a batch can be cut into, largest first: divisors of `batch`, multiples of the
  rows each shard must hold."""
  return [m for m in range(batch, 0, -1) if batch % m == 0 and m % rows_multiple == 0]


def _next_guess(tries: dict[int, int], limit: float, smaller: list[int]) -> int:
  """The largest of `smaller` the tries' memory (affine in the micro-batch, proportional after one try)
  says may fit; the smallest when none may."""
  (m1, mem1), *rest = sorted(tries.items())
  if rest:
    m2, mem2 = rest[0]
    slope = (mem2 - mem1) / (m2 - m1)
    fixed = mem1 - slope * m1
  else:
    slope, fixed = mem1 / m1, 0.0
  estimate = (limit - fixed) / slope if slope > 0 else 0
  fitting = [m for m in smaller if m <= estimate]
  return fitting[0] if fitting else smaller[-1]


@dataclasses.dataclass(frozen=True)
class FittedSteps:
  """The gate's plan: the steps compiled at the micro-batch that fits, and the figures behind it."""

  lowered: LoweredSteps
  train_step: jax.stages.Compiled
  eval_step: jax.stages.Compiled
  score_step: jax.stages.Compiled
  memory_bytes: int | None
  flops_per_step: float | None
  compile_seconds: float
  tried: dict[int, int]   # micro-batch -> bytes, of the sizes that did not fit


def fit_steps(model_factory: Callable[[], LanguageModel], tx: optax.GradientTransformation,
              schedule: optax.Schedule, mesh: Mesh, rules: Rules, batch: int, length: int,
              dtype: jnp.dtype, memory_fraction: float = 0.9, scored_per_row: int = 0, micro_batch: int = 0,
              memory_limit: int | None = None) -> FittedSteps:
  """Compiles the steps for `batch` rows of `length` tokens (see `steps.lower_steps`) at the largest
  micro-batch that fits (or at `micro_batch` rows when given); allocates nothing.

  Raises `DoesNotFit` when XLA's memory analysis of a step exceeds `memory_fraction` of a device's
  memory (`memory_limit` bytes, or what the device has) at every micro-batch tried.
  """
  start = time.perf_counter()
  limit = memory_limit or device_memory_bytes(mesh.devices.flat[0])
  allowed = memory_fraction * limit
  candidates = [micro_batch] if micro_batch else micro_batch_candidates(batch, rows_per_shard(mesh, rules))
  if not candidates:
    raise ValueError(f"the batch of {batch} rows does not split over the {rows_per_shard(mesh, rules)} ways "
                     "the mesh splits rows")
  lower_at = functools.cache(  # the whole batch's lowering serves both the first try and the FLOPs
      lambda m: lower_steps(model_factory, tx, schedule, mesh, rules, batch, length, dtype, scored_per_row, m))
  tries: dict[int, int] = {}
  chosen = candidates[0]
  while True:
    lowered = lower_at(chosen)
    with jax.set_mesh(mesh):
      train_c = lowered.train_step.compile()
    memory = _memory_needed(train_c)
    if memory is None or memory <= allowed:
      break
    tries[chosen] = memory
    smaller = [m for m in candidates if m < chosen]
    if not smaller:
      raise _does_not_fit("training", lowered, memory, limit, memory_fraction, tries)
    chosen = _next_guess(tries, allowed, smaller)
  with jax.set_mesh(mesh):
    eval_c, score_c = lowered.eval_step.compile(), lowered.score_step.compile()
  for name, compiled in (("evaluation", eval_c), ("scoring", score_c)):
    needed = _memory_needed(compiled)
    if needed is not None and needed > allowed:
      raise _does_not_fit(name, lowered, needed, limit, memory_fraction, tries)
  # XLA's cost analysis counts a loop's body once: an accumulating step's FLOPs are the whole batch's program's.
  flops = _flops(train_c if lowered.accumulation == 1 else lower_at(batch).train_step)
  return FittedSteps(lowered, train_c, eval_c, score_c, memory, flops, time.perf_counter() - start, tries)


def build_steps(model_factory: Callable[[], LanguageModel], tx: optax.GradientTransformation,
                schedule: optax.Schedule, mesh: Mesh, rules: Rules, batch: int, length: int,
                dtype: jnp.dtype, memory_fraction: float = 0.9, scored_per_row: int = 0, micro_batch: int = 0,
                memory_limit: int | None = None) -> CompiledSteps:
  """`fit_steps`, then the state, built sharded over the mesh."""
  fitted = fit_steps(model_factory, tx, schedule, mesh, rules, batch, length, dtype, memory_fraction,
                     scored_per_row, micro_batch, memory_limit)
  lowered = fitted.lowered
  with jax.set_mesh(lowered.batch_sharding.mesh):
    state = jax.jit(lambda: nnx.split(lowered.init())[1], out_shardings=lowered.state_sharding)()
  return CompiledSteps(lowered.graphdef, state, fitted.train_step, fitted.eval_step, fitted.score_step,
                       lowered.batch_sharding, lowered.state_sharding, lowered.micro_batch, lowered.accumulation,
                       fitted.compile_seconds, fitted.memory_bytes, fitted.flops_per_step)


def _rows(count: int) -> str:
  return f"{count} row{'s' if count != 1 else ''}"


def _does_not_fit(step: str, lowered: LoweredSteps, needed: int, limit: int, fraction: float,
                  tries: dict[int, int]) -> DoesNotFit:
  """The refusal of a `step` needing `needed` bytes, with the memory figures a `does_not_fit` result records."""
  message = (f"the {step} step needs {needed / GiB:.2f} GiB per device at {_rows(lowered.micro_batch)} per "
             f"micro-batch, more than {fraction:.0%} of the {limit / GiB:.2f} GiB available")
  return DoesNotFit(message, {"needed_bytes": needed, "limit_bytes": limit, "memory_fraction": fraction,
                              "micro_batch": lowered.micro_batch, "batch": lowered.batch,
                              "tried": {str(m): b for m, b in sorted(tries.items(), reverse=True)}})


def _memory_needed(compiled: jax.stages.Compiled) -> int | None:
  mem = compiled.memory_analysis()
  if mem is None:
    return None
  return int(mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
             - mem.alias_size_in_bytes)


def _flops(step: jax.stages.Compiled | jax.stages.Lowered) -> float | None:
  cost = step.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) and cost else cost
  return float(cost["flops"]) if cost and cost.get("flops") else None
