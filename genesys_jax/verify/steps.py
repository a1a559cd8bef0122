"""The steps of a verification run, lowered from shapes alone over a device mesh: one training step with
gradient accumulation over micro-batches, one evaluation step and one multiple-choice scoring step, each
reducing its logits to scores inside the program (see `compile_gate` for compiling them).

The state is `nnx.split((model, optimizer))`; parameters stay float32 and are cast to the compute dtype
inside the step, so gradients and optimizer updates are float32. Shardings come from each variable's
logical `axes` and the config's rules; the state buffers are donated to the next step. A batch of B rows
is read as `B / micro_batch` micro-batches scanned one after another: micro-batch j holds rows j, j + k,
j + 2k, ... (k micro-batches), so every device keeps its own rows; the update is the one of the whole batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from genesys_jax.gau.composer import LanguageModel
from genesys_jax.gau.sharding import Rules, partition_spec, state_shardings
from genesys_jax.verify.token_scores import continuation_scores, evaluation_sums, scored_positions, \
    weighted_cross_entropy

Batch = Mapping[str, jax.Array]
TrainMetrics = dict[str, jax.Array]
BATCH_KEYS = ("inputs", "targets", "weights", "target_bytes")
SCORE_KEYS = ("tokens", "continuation")


def compute_dtype(name: str) -> jnp.dtype:
  """'float32', 'bfloat16', or 'auto' (bfloat16 on GPU and TPU, float32 on CPU)."""
  if name == "auto":
    return jnp.bfloat16 if jax.default_backend() in ("gpu", "tpu") else jnp.float32
  if name in ("float32", "bfloat16"):
    return jnp.dtype(name)
  raise ValueError(f"unknown compute dtype {name!r}; choose 'auto', 'float32' or 'bfloat16'")


def _cast_floats(tree, dtype: jnp.dtype):
  return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def batch_sharding(mesh: Mesh, rules: Rules) -> NamedSharding:
  """How a [batch, length] array is laid out over the mesh."""
  return NamedSharding(mesh, partition_spec(("batch", "length"), rules, mesh))


def rows_per_shard(mesh: Mesh, rules: Rules) -> int:
  """How many ways the mesh splits a batch's rows: a micro-batch is a multiple of it."""
  axes = batch_sharding(mesh, rules).spec[0]
  axes = () if axes is None else (axes,) if isinstance(axes, str) else axes
  count = 1
  for axis in axes:
    count *= mesh.shape[axis]
  return count


@dataclasses.dataclass(frozen=True)
class LoweredSteps:
  """The steps lowered for the abstract state at one micro-batch: nothing allocated, nothing compiled."""

  graphdef: nnx.GraphDef
  abstract_state: nnx.State
  init: Callable[[], tuple[LanguageModel, nnx.Optimizer]]
  train_step: jax.stages.Lowered
  eval_step: jax.stages.Lowered
  score_step: jax.stages.Lowered
  batch_sharding: NamedSharding
  state_sharding: nnx.State
  batch: int
  micro_batch: int

  @property
  def accumulation(self) -> int:
    """Micro-batches per optimizer step."""
    return self.batch // self.micro_batch


def lower_steps(model_factory: Callable[[], LanguageModel], tx: optax.GradientTransformation,
                schedule: optax.Schedule, mesh: Mesh, rules: Rules, batch: int, length: int,
                dtype: jnp.dtype, scored_per_row: int = 0, micro_batch: int = 0) -> LoweredSteps:
  """Lowers the steps for `batch` rows of `length` tokens over `mesh` from shapes alone (`nnx.eval_shape`),
  `micro_batch` rows at a time (0: all at once); with `scored_per_row`, the loss and the evaluation see
  only that many top-weighted positions of a row."""
  micro_batch = micro_batch or batch
  if batch % micro_batch or micro_batch % rows_per_shard(mesh, rules):
    raise ValueError(f"a micro-batch of {micro_batch} rows must divide the batch of {batch} rows and be a "
                     f"multiple of the {rows_per_shard(mesh, rules)} ways the mesh splits rows")
  accumulation = batch // micro_batch

  def init() -> tuple[LanguageModel, nnx.Optimizer]:
    model = model_factory()
    return model, nnx.Optimizer(model, tx, wrt=nnx.Param)

  graphdef, abstract_state = nnx.split(nnx.eval_shape(init))
  state_sh = state_shardings(abstract_state, mesh, rules)
  batch_sh = batch_sharding(mesh, rules)
  stacked_sh = NamedSharding(mesh, PartitionSpec(None, *batch_sh.spec))
  replicated = NamedSharding(mesh, PartitionSpec())

  def micro_batches(rows: Batch) -> Batch:
    """[B, L] -> [k, B/k, L] (micro-batch j: rows j, j + k, ...), laid out like the batch per micro-batch."""
    split = lambda x: x.reshape(micro_batch, accumulation, *x.shape[1:]).swapaxes(0, 1)
    return jax.lax.with_sharding_constraint(jax.tree.map(split, rows), stacked_sh)

  def per_micro_batch(fn: Callable[[Batch], dict], rows: Batch) -> dict:
    """`fn` of each micro-batch, stacked [k, ...] (one scan; no loop when k is 1)."""
    if accumulation == 1:
      return jax.tree.map(lambda x: x[None], fn(rows))
    return jax.lax.scan(lambda _, micro: (None, fn(micro)), None, micro_batches(rows))[1]

  def train_step(state: nnx.State, rows: Batch) -> tuple[nnx.State, TrainMetrics]:
    model, opt = nnx.merge(graphdef, state)
    step = opt.step[...]
    model_graph, params, rest = nnx.split(model, nnx.Param, ...)

    def loss_sum(params, micro: Batch):
      low = _merge_in(model_graph, params, rest, dtype)
      at, scored = scored_positions(micro, scored_per_row)
      losses_BxL, weights_BxL = weighted_cross_entropy(low(micro["inputs"], at), scored)
      return losses_BxL.sum(), weights_BxL.sum()

    grad_fn = jax.value_and_grad(loss_sum, has_aux=True)
    if accumulation == 1:
      (loss, weight), grads = grad_fn(params, rows)
    else:
      def accumulate(carry, micro: Batch):
        (loss_i, weight_i), grads_i = grad_fn(params, micro)
        return jax.tree.map(jnp.add, carry, (loss_i, weight_i, grads_i)), None
      zeros = (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32), jax.tree.map(jnp.zeros_like, params))
      (loss, weight, grads), _ = jax.lax.scan(accumulate, zeros, micro_batches(rows))
    per_weight = 1.0 / jnp.maximum(weight, 1.0)   # the mean over the whole batch's scored positions
    loss, grads = loss * per_weight, jax.tree.map(lambda g: g * per_weight, grads)
    opt.update(model, grads)
    metrics = {"loss": loss, "weight": weight, "grad_norm": optax.tree.norm(grads),
               "param_norm": optax.tree.norm(nnx.state(model, nnx.Param)),
               "learning_rate": schedule(step)}
    return nnx.state((model, opt)), metrics

  def eval_step(state: nnx.State, rows: Batch) -> dict[str, jax.Array]:
    low = _low_model(nnx.merge(graphdef, state)[0], dtype)

    def sums(micro: Batch) -> dict[str, jax.Array]:
      at, scored = scored_positions(micro, scored_per_row)
      return evaluation_sums(low(micro["inputs"], at), scored)
    return jax.tree.map(lambda x: x.sum(0), per_micro_batch(sums, rows))

  def score_step(state: nnx.State, rows: Batch) -> dict[str, jax.Array]:
    low = _low_model(nnx.merge(graphdef, state)[0], dtype)

    def scores(micro: Batch) -> dict[str, jax.Array]:
      loglik_B, greedy_B = continuation_scores(low(micro["tokens"]), micro["tokens"], micro["continuation"])
      return {"loglik": loglik_B, "greedy": greedy_B}
    return jax.tree.map(lambda x: x.swapaxes(0, 1).reshape(batch), per_micro_batch(scores, rows))

  abstract_batch = {k: jax.ShapeDtypeStruct((batch, length), jnp.float32 if k == "weights" else jnp.int32)
                    for k in BATCH_KEYS}
  abstract_options = {"tokens": jax.ShapeDtypeStruct((batch, length), jnp.int32),
                      "continuation": jax.ShapeDtypeStruct((batch, length), jnp.bool_)}
  with jax.set_mesh(mesh):
    train_l = jax.jit(train_step, in_shardings=(state_sh, batch_sh), out_shardings=(state_sh, replicated),
                      donate_argnums=0).lower(abstract_state, abstract_batch)
    eval_l = jax.jit(eval_step, in_shardings=(state_sh, batch_sh), out_shardings=replicated
                     ).lower(abstract_state, abstract_batch)
    score_l = jax.jit(score_step, in_shardings=(state_sh, batch_sh), out_shardings=replicated
                      ).lower(abstract_state, abstract_options)
  return LoweredSteps(graphdef, abstract_state, init, train_l, eval_l, score_l, batch_sh, state_sh, batch,
                      micro_batch)


def _merge_in(graph: nnx.GraphDef, params: nnx.State, rest: nnx.State, dtype: jnp.dtype) -> LanguageModel:
  """The model with its float parameters cast to `dtype` (the compute copy; gradients flow to `params`)."""
  return nnx.merge(graph, _cast_floats(params, dtype), rest)


def _low_model(model: LanguageModel, dtype: jnp.dtype) -> LanguageModel:
  return _merge_in(*nnx.split(model, nnx.Param, ...), dtype)
