"""The compiled steps of a verification run: one jitted training step and one evaluation step over a
device mesh, compiled before any memory is spent (MaxText's compile gate).

The state is `nnx.split((model, optimizer))`; parameters stay float32 and are cast to the compute dtype
inside the step, so gradients and optimizer updates are float32. Shardings come from each variable's
logical `axes` and the config's rules; the state buffers are donated to the next step.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
import psutil
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from genesys_jax.gau.composer import LanguageModel
from genesys_jax.gau.sharding import Rules, partition_spec, state_shardings

Batch = Mapping[str, jax.Array]
TrainMetrics = dict[str, jax.Array]


class DoesNotFit(RuntimeError):
  """The compiled step needs more memory than the devices have."""


def compute_dtype(name: str) -> jnp.dtype:
  """'float32', 'bfloat16', or 'auto' (bfloat16 on GPU and TPU, float32 on CPU)."""
  if name == "auto":
    return jnp.bfloat16 if jax.default_backend() in ("gpu", "tpu") else jnp.float32
  if name in ("float32", "bfloat16"):
    return jnp.dtype(name)
  raise ValueError(f"unknown compute dtype {name!r}; choose 'auto', 'float32' or 'bfloat16'")


def _cast_floats(tree, dtype: jnp.dtype):
  return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def weighted_cross_entropy(logits_BxLxV: jax.Array, batch: Batch) -> tuple[jax.Array, jax.Array]:
  """Per-position cross-entropy (float32) times the batch's weights, and the weights."""
  ce_BxL = optax.softmax_cross_entropy_with_integer_labels(logits_BxLxV.astype(jnp.float32), batch["targets"])
  weights_BxL = batch["weights"].astype(jnp.float32)
  return ce_BxL * weights_BxL, weights_BxL


def scored_positions(batch: Batch, per_row: int) -> tuple[jax.Array | None, Batch]:
  """The `per_row` positions of each row with the largest weights (all positions when 0) and the batch's
  targets, weights and target bytes there; rows with fewer scored positions fill up with weight-0 ones."""
  if not per_row:
    return None, batch
  _, at_BxK = jax.lax.top_k(batch["weights"], per_row)
  return at_BxK, {**batch, **{k: jnp.take_along_axis(batch[k], at_BxK, axis=1)
                             for k in ("targets", "weights", "target_bytes")}}


def device_memory_bytes(device: jax.Device) -> int:
  """Memory one device may use: its allocator's limit on accelerators, the host's share on CPU."""
  stats = device.memory_stats() if device.platform != "cpu" else None
  if stats and "bytes_limit" in stats:
    return int(stats["bytes_limit"])
  return psutil.virtual_memory().available // max(1, jax.local_device_count())


@dataclasses.dataclass
class CompiledSteps:
  """Compiled training and evaluation steps, the sharded state they run on, and XLA's figures."""

  graphdef: nnx.GraphDef
  state: nnx.State
  train_step: jax.stages.Compiled
  eval_step: jax.stages.Compiled
  forward_fn: Callable[[nnx.State, jax.Array], jax.Array]
  batch_sharding: NamedSharding
  state_sharding: nnx.State
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

  def forward(self, tokens_BxL: jax.Array) -> jax.Array:
    """Float32 logits of the current model for `tokens`."""
    return self.forward_fn(self.state, tokens_BxL)


@dataclasses.dataclass(frozen=True)
class LoweredSteps:
  """The training and evaluation steps lowered for the abstract state: nothing allocated, nothing compiled."""

  graphdef: nnx.GraphDef
  abstract_state: nnx.State
  init: Callable[[], tuple[LanguageModel, nnx.Optimizer]]
  train_step: jax.stages.Lowered
  eval_step: jax.stages.Lowered
  forward_fn: Callable[[nnx.State, jax.Array], jax.Array]
  batch_sharding: NamedSharding
  state_sharding: nnx.State


def lower_steps(model_factory: Callable[[], LanguageModel], tx: optax.GradientTransformation,
                schedule: optax.Schedule, mesh: Mesh, rules: Rules, batch: int, length: int,
                dtype: jnp.dtype, scored_per_row: int = 0) -> LoweredSteps:
  """Lowers the steps for `batch` rows of `length` tokens over `mesh` from shapes alone (`nnx.eval_shape`);
  with `scored_per_row`, the loss and the evaluation see only that many top-weighted positions of a row."""
  def init() -> tuple[LanguageModel, nnx.Optimizer]:
    model = model_factory()
    return model, nnx.Optimizer(model, tx, wrt=nnx.Param)

  graphdef, abstract_state = nnx.split(nnx.eval_shape(init))
  state_sh = state_shardings(abstract_state, mesh, rules)
  batch_sh = NamedSharding(mesh, partition_spec(("batch", "length"), rules, mesh))
  replicated = NamedSharding(mesh, PartitionSpec())

  def loss_and_grads(model: LanguageModel, batch: Batch):
    model_graph, params, rest = nnx.split(model, nnx.Param, ...)

    def loss_fn(params):
      low = _merge_in(model_graph, params, rest, dtype)
      at, scored = scored_positions(batch, scored_per_row)
      losses_BxL, weights_BxL = weighted_cross_entropy(low(batch["inputs"], at), scored)
      return losses_BxL.sum() / jnp.maximum(weights_BxL.sum(), 1.0), weights_BxL.sum()
    return jax.value_and_grad(loss_fn, has_aux=True)(params)

  def train_step(state: nnx.State, batch: Batch) -> tuple[nnx.State, TrainMetrics]:
    model, opt = nnx.merge(graphdef, state)
    step = opt.step[...]
    (loss, weight), grads = loss_and_grads(model, batch)
    opt.update(model, grads)
    metrics = {"loss": loss, "weight": weight, "grad_norm": optax.tree.norm(grads),
               "param_norm": optax.tree.norm(nnx.state(model, nnx.Param)),
               "learning_rate": schedule(step)}
    return nnx.state((model, opt)), metrics

  def eval_step(state: nnx.State, batch: Batch) -> dict[str, jax.Array]:
    model, _ = nnx.merge(graphdef, state)
    at, batch = scored_positions(batch, scored_per_row)
    logits_BxLxV = _low_model(model, dtype)(batch["inputs"], at)
    losses_BxL, weights_BxL = weighted_cross_entropy(logits_BxLxV, batch)
    correct_BxL = (jnp.argmax(logits_BxLxV, axis=-1) == batch["targets"]) * weights_BxL
    return {"loss_sum": losses_BxL.sum(), "weight_sum": weights_BxL.sum(), "correct_sum": correct_BxL.sum(),
            "byte_sum": (batch["target_bytes"] * weights_BxL).sum()}

  def forward_fn(state: nnx.State, tokens_BxL: jax.Array) -> jax.Array:
    model, _ = nnx.merge(graphdef, state)
    return _low_model(model, dtype)(tokens_BxL).astype(jnp.float32)

  abstract_batch = {k: jax.ShapeDtypeStruct((batch, length), jnp.float32 if k == "weights" else jnp.int32)
                    for k in ("inputs", "targets", "weights", "target_bytes")}
  with jax.set_mesh(mesh):
    train_l = jax.jit(train_step, in_shardings=(state_sh, batch_sh), out_shardings=(state_sh, replicated),
                      donate_argnums=0).lower(abstract_state, abstract_batch)
    eval_l = jax.jit(eval_step, in_shardings=(state_sh, batch_sh), out_shardings=replicated
                     ).lower(abstract_state, abstract_batch)
  return LoweredSteps(graphdef, abstract_state, init, train_l, eval_l, forward_fn, batch_sh, state_sh)


def build_steps(model_factory: Callable[[], LanguageModel], tx: optax.GradientTransformation,
                schedule: optax.Schedule, mesh: Mesh, rules: Rules, batch: int, length: int,
                dtype: jnp.dtype, memory_fraction: float = 0.9, scored_per_row: int = 0) -> CompiledSteps:
  """Compiles the steps for `batch` rows of `length` tokens (see `lower_steps`), checks they fit, then builds
  the state.

  Raises `DoesNotFit` (before allocating any weight) when XLA's memory analysis exceeds
  `memory_fraction` of a device's memory.
  """
  start = time.perf_counter()
  lowered = lower_steps(model_factory, tx, schedule, mesh, rules, batch, length, dtype, scored_per_row)
  with jax.set_mesh(mesh):
    train_c = lowered.train_step.compile()
    eval_c = lowered.eval_step.compile()
  seconds = time.perf_counter() - start
  memory = _memory_needed(train_c)
  limit = device_memory_bytes(mesh.devices.flat[0])
  if memory is not None and memory > memory_fraction * limit:
    raise DoesNotFit(f"the training step needs {memory / 2**30:.2f} GiB per device, more than "
                     f"{memory_fraction:.0%} of the {limit / 2**30:.2f} GiB available")
  with jax.set_mesh(mesh):
    state = jax.jit(lambda: nnx.split(lowered.init())[1], out_shardings=lowered.state_sharding)()
  return CompiledSteps(lowered.graphdef, state, train_c, eval_c, jax.jit(lowered.forward_fn),
                       lowered.batch_sharding, lowered.state_sharding, seconds, memory, _flops(train_c))


def _merge_in(graph: nnx.GraphDef, params: nnx.State, rest: nnx.State, dtype: jnp.dtype) -> LanguageModel:
  """The model with its float parameters cast to `dtype` (the compute copy; gradients flow to `params`)."""
  return nnx.merge(graph, _cast_floats(params, dtype), rest)


def _low_model(model: LanguageModel, dtype: jnp.dtype) -> LanguageModel:
  return _merge_in(*nnx.split(model, nnx.Param, ...), dtype)


def _memory_needed(compiled: jax.stages.Compiled) -> int | None:
  mem = compiled.memory_analysis()
  if mem is None:
    return None
  return int(mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
             - mem.alias_size_in_bytes)


def _flops(compiled: jax.stages.Compiled) -> float | None:
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) and cost else cost
  return float(cost["flops"]) if cost and cost.get("flops") else None
