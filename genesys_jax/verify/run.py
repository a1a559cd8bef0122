"""Verifying a design at one rung: size it, train it on the corpus within the rung's token budget,
evaluate it against its own random initialization, and record everything under the run directory.

    <workdir>/<design>-<hash>/<rung>/
      results.json      metrics, timings and the exact settings (written last, atomically)
      baseline.json     the same evaluations of the untrained model
      history.jsonl     training metrics per step
      checkpoints/      Orbax checkpoints (model, optimizer, step, data iterator)
      tensorboard/      TensorBoard scalars (train, eval); diagnostics/ for rung 0
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import pathlib
import time
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
from flax import nnx

from genesys_jax.distributed import any_process
from genesys_jax.files import read_json, write_json_atomic
from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.design import Design, MaterializedDesign
from genesys_jax.gau.scales import Scale, get_scale
from genesys_jax.gau.sizing import autosize, count_params
from genesys_jax.verify import corpus, evaluate, multiple_choice, optim, settings
from genesys_jax.verify.checkpoints import Checkpoints
from genesys_jax.verify.pipeline import evaluation_batches, lm_dataset
from genesys_jax.verify.rung_zero import run_diagnostics
from genesys_jax.verify.scalar_writer import ScalarWriter
from genesys_jax.verify.compile_gate import GiB, CompiledSteps, DoesNotFit, build_steps
from genesys_jax.verify.steps import compute_dtype
from genesys_jax.verify.tokenizer import Tokenizer, make_tokenizer
from genesys_jax.verify.train import History, LoopSettings, StopFlag, train_loop

RESULTS, BASELINE = "results.json", "baseline.json"
_NOT_IN_FINGERPRINT = ("log_every", "memory_fraction", "divergence_factor", "micro_batch", "device_memory_gib")
"""Training settings that do not change what is trained (a checkpoint stays valid when they change; the
micro-batch changes only the order of a step's sums)."""


@dataclasses.dataclass(frozen=True)
class Plan:
  """What a verification trains: the model's shape and the rung's budget in steps."""

  model: ModelConfig
  params: int
  batch: int
  length: int
  total_steps: int
  learning_rate: float
  warmup_steps: int

  @property
  def tokens_per_step(self) -> int:
    return self.batch * self.length

  @property
  def host_batch(self) -> int:
    """The rows of a global batch that this process reads."""
    return self.batch // jax.process_count()


def make_plan(md: MaterializedDesign, scale: Scale, c: ml_collections.ConfigDict, tokenizer: Tokenizer) -> Plan:
  """Auto-sizes the design to the rung and turns the rung's token budget into steps."""
  sized = autosize(md, scale).config
  model = ModelConfig(sized.embed_dim, sized.n_layers, tokenizer.vocab_size)
  params = count_params(md, model)
  length = scale.seq_len
  batch = max(1, (c.train.batch_tokens or scale.batch_tokens) // length)
  tokens = params * (c.train.token_multiplier or scale.token_multiplier)
  total = max(2, math.ceil(tokens / (batch * length)))
  if c.train.max_steps:
    total = min(total, c.train.max_steps)
  return Plan(model, params, batch, length, total, c.train.learning_rate or scale.learning_rate,
              max(1, round(c.train.warmup_fraction * total)))


def data_shards(c: ml_collections.ConfigDict, plan: Plan) -> dict[str, Any]:
  """The document shards this process reads (`lm_dataset`'s `shards` and `shard_count`)."""
  count, processes = c.data.shards or jax.process_count(), jax.process_count()
  if count % processes or plan.batch % count:
    raise ValueError(f"data.shards={count} must be a multiple of the {processes} processes and divide the "
                     f"batch of {plan.batch} rows")
  mine = count // processes
  return {"shards": tuple(range(jax.process_index() * mine, (jax.process_index() + 1) * mine)), "shard_count": count}


def run_directory(workdir: str | pathlib.Path, design: Design, scale: str) -> pathlib.Path:
  return pathlib.Path(workdir) / f"{design.name}-{design.content_hash()[:10]}" / scale


def _fingerprint(design: Design, scale: Scale, plan: Plan, c: ml_collections.ConfigDict) -> dict:
  """What must match for a checkpoint or a result to belong to this verification."""
  return {"design_hash": design.content_hash(), "scale": scale.name, "embed_dim": plan.model.embed_dim,
          "n_layers": plan.model.n_layers, "vocab": plan.model.vocab_size, "batch": plan.batch,
          "length": plan.length, "total_steps": plan.total_steps, "learning_rate": plan.learning_rate,
          "seed": c.seed, "data": f"{c.data.source}:{c.data.tfds_name}:{c.data.tokenizer}:{c.data.tokenizer_model}"
                                  + _stream_tag(c),
          "train": repr(sorted((k, v) for k, v in c.train.to_dict().items() if k not in _NOT_IN_FINGERPRINT))}


def _stream_tag(c: ml_collections.ConfigDict) -> str:
  """The data's shard count where it is not the single stream of one process, and the number of worker
  processes packing it where there are any (older fingerprints stay)."""
  count = c.data.shards or jax.process_count()
  return (f":shards={count}" if count != 1 else "") + (f":workers={c.data.workers}" if c.data.workers else "")


def _evaluate_all(steps: CompiledSteps, c: ml_collections.ConfigDict, tokenizer: Tokenizer, plan: Plan,
                  tasks: dict, splits: tuple[str, ...]) -> dict:
  """Held-out LM metrics per split and multiple-choice task metrics for the current weights."""
  out = {}
  for split in splits:
    batches = evaluation_batches(corpus.documents(c.data, split), tokenizer, plan.length, plan.host_batch,
                                 c.eval.max_batches, **data_shards(c, plan))
    out[split] = evaluate.language_model_metrics(steps.evaluate, batches, c.eval.max_batches)
  if tasks:
    out["tasks"] = multiple_choice.evaluate_tasks(steps.score, tokenizer, tasks, plan.batch, plan.length)
  return out


def _load_tasks(c: ml_collections.ConfigDict) -> dict:
  tasks = {pathlib.Path(f).stem: multiple_choice.load_jsonl(f)[:c.eval.task_limit] for f in c.eval.task_files}
  for name in c.eval.tfds_tasks:
    tasks[name] = multiple_choice.load_tfds_task(name, c.eval.tfds_data_dir, limit=c.eval.task_limit)
  return tasks


def verify(design: Design, scale_name: str, workdir: str | pathlib.Path, c: ml_collections.ConfigDict, *,
           stop: StopFlag | None = None, on_log: Callable[[int, dict], None] | None = None) -> dict:
  """Verifies `design` at rung `scale_name` with the `verify` config section `c`; returns the results.

  Resumes from the newest checkpoint; returns the recorded results at once when this exact
  verification has finished before. Bad settings raise ValueError (one sentence).
  """
  settings.validate(c)
  scale = get_scale(scale_name)
  tokenizer = make_tokenizer(c.data.tokenizer, c.data.tokenizer_model or None)
  md = design.materialize()
  plan = make_plan(md, scale, c, tokenizer)
  fingerprint = _fingerprint(design, scale, plan, c)
  out = run_directory(workdir, design, scale.name)
  out.mkdir(parents=True, exist_ok=True)
  if (out / RESULTS).exists():
    recorded = read_json(out / RESULTS)
    if recorded.get("fingerprint") == fingerprint:
      return recorded
  started = time.perf_counter()
  timings: dict[str, float] = {}

  @contextlib.contextmanager
  def clock(name: str):
    begin = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - begin

  stop = stop if stop is not None else StopFlag()
  rules = settings.sharding_rules(c)
  mesh = settings.make_run_mesh(c)
  tasks = _load_tasks(c)
  schedule = optim.learning_rate_schedule(plan.learning_rate, plan.warmup_steps, plan.total_steps,
                                          c.train.final_lr_fraction)
  tx = optim.adamw(schedule, b1=c.train.b1, b2=c.train.b2, weight_decay=c.train.weight_decay,
                   clip_norm=c.train.clip_norm)
  result = {"design": design.name, "design_hash": design.content_hash(), "scale": scale.name,
            "fingerprint": fingerprint, "config": json.loads(json.dumps(c.to_dict())),
            "model": {"embed_dim": plan.model.embed_dim, "n_layers": plan.model.n_layers,
                      "vocab_size": plan.model.vocab_size, "params": plan.params},
            "budget": {"steps": plan.total_steps, "batch": plan.batch, "length": plan.length,
                       "tokens": plan.total_steps * plan.tokens_per_step, "learning_rate": plan.learning_rate}}
  if any_process(bool(stop)):  # asked to stop while it started: nothing to save yet
    return {**result, "status": "preempted", "message": "stopped before training began"}
  try:
    with clock("compile"):
      steps = build_steps(lambda: LanguageModel(md, plan.model, rngs=nnx.Rngs(c.seed)), tx, schedule, mesh,
                          rules, plan.batch, plan.length, compute_dtype(c.train.compute_dtype),
                          c.train.memory_fraction, micro_batch=c.train.micro_batch,
                          memory_limit=int(c.train.device_memory_gib * GiB) or None)
  except DoesNotFit as e:
    result.update(status="does_not_fit", message=str(e), memory=e.figures)
    write_json_atomic(out / RESULTS, result)
    return result

  checkpoints = Checkpoints(out / "checkpoints", c.checkpoint.keep)
  train_data = iter(lm_dataset(corpus.documents(c.data, "train"), tokenizer, plan.length, plan.host_batch,
                               train=True, seed=c.seed, prefetch=c.data.prefetch, workers=c.data.workers,
                               **data_shards(c, plan)))
  restored = checkpoints.restore_latest(steps.state, train_data, fingerprint)
  start_step = 0
  if restored is not None:
    start_step, steps.state, _ = restored
  if start_step == 0 or not (out / BASELINE).exists():
    with clock("baseline_eval"):
      baseline = _evaluate_all(steps, c, tokenizer, plan, tasks, ("validation", "test"))
    if jax.process_index() == 0:
      write_json_atomic(out / BASELINE, baseline)
  if any_process(bool(stop)):  # compiling and the first evaluation take long on a busy host
    checkpoints.close()
    train_data.close()
    return {**result, "status": "preempted", "message": "stopped before training began"}
  history = History(out / "history.jsonl", start_step)
  writer = ScalarWriter(out / "tensorboard")
  try:
    outcome = train_loop(steps, train_data, start_step, LoopSettings(
        total_steps=plan.total_steps, tokens_per_step=plan.tokens_per_step,
        checkpoint_every=c.checkpoint.every_steps, log_every=c.train.log_every,
        divergence_factor=c.train.divergence_factor, warmup_steps=plan.warmup_steps),
        checkpoints, {"fingerprint": fingerprint}, history, writer, stop, on_log)
    result.update(status=outcome.status, message=outcome.message, resumed_from=start_step,
                  checkpoint_warnings=checkpoints.warnings,
                  train={"steps": outcome.steps, "final_loss": outcome.final_loss,
                         "tokens_per_second": outcome.tokens_per_second, "seconds_per_step": outcome.seconds_per_step,
                         "mfu": outcome.mfu, "compile_seconds": steps.compile_seconds,
                         "micro_batch": steps.micro_batch, "accumulation_steps": steps.accumulation,
                         "memory_bytes": steps.memory_bytes, "flops_per_step": steps.flops_per_step,
                         "seconds": outcome.seconds, "devices": jax.device_count(),
                         "device_kind": jax.devices()[0].device_kind})
    if outcome.status == "preempted":
      return result
    if outcome.status == "completed":
      with clock("eval"):
        result["eval"] = _evaluate_all(steps, c, tokenizer, plan, tasks, ("validation", "test"))
      writer.write_scalars(plan.total_steps, _flat_eval(result["eval"]))
      if c.diagnostics.enabled:
        with clock("diagnostics"):
          result["diagnostics"] = _diagnostics_or_failure(md, c, scale.name, mesh, rules, out / "diagnostics")
    result["random_init"] = read_json(out / BASELINE)
    timings["train"] = outcome.seconds
    result["timings"] = {**timings, "total": time.perf_counter() - started}
  finally:
    history.close()
    writer.close()
    checkpoints.close()
    train_data.close()  # stops the thread that packs batches ahead
  if jax.process_index() == 0:
    write_json_atomic(out / RESULTS, result)
  return result


def _diagnostics_or_failure(md: MaterializedDesign, c: ml_collections.ConfigDict, scale: str, mesh, rules,
                            out: pathlib.Path) -> dict:
  """Rung 0's results, or its failure recorded beside the finished training and evaluation it follows."""
  try:
    return run_diagnostics(md, c, c.diagnostics.scale or scale, mesh, rules, out)
  except Exception as e:  # pylint: disable=broad-except  # the design's code: anything may go wrong
    return {"status": "error", "message": f"{type(e).__name__}: {e}"}


def _flat_eval(ev: dict) -> dict[str, float]:
  flat = {f"eval/{split}/{k}": v for split in ("validation", "test") for k, v in ev[split].items()}
  for task, m in ev.get("tasks", {}).items():
    flat.update({f"eval/tasks/{task}/{k}": v for k, v in m.items() if isinstance(v, (int, float))})
  return flat
