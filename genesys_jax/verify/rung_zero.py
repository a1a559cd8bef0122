"""Rung 0 of the ladder: train a small model of the design on the synthetic diagnostics and report
each task's accuracy next to the untrained model's and chance."""

from __future__ import annotations

import dataclasses
import pathlib

import jax
import ml_collections
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.design import MaterializedDesign
from genesys_jax.gau.scales import get_scale
from genesys_jax.gau.sizing import autosize
from genesys_jax.verify import diagnostics, optim
from genesys_jax.verify.scalar_writer import ScalarWriter
from genesys_jax.verify.compile_gate import GiB, CompiledSteps, build_steps
from genesys_jax.verify.steps import compute_dtype
from genesys_jax.verify.train import History, LoopSettings, StopFlag, train_loop


def _with_bytes(batch: diagnostics.Batch) -> dict[str, np.ndarray]:
  return {**batch, "target_bytes": (batch["weights"] > 0).astype(np.int32)}


def _accuracy(steps: CompiledSteps, batches: list[dict[str, np.ndarray]]) -> float:
  """Fraction of the scored positions of `batches` where the model's argmax is the target (in the step).

  The batches' sums are added on the host: adding them on the devices, while their steps are still in
  flight, once left two fake CPU devices each waiting in a different program's collective."""
  sums = jax.device_get([steps.evaluate(b) for b in batches])
  return sum(float(s["correct_sum"]) for s in sums) / sum(float(s["weight_sum"]) for s in sums)


def task_params(d: ml_collections.ConfigDict) -> diagnostics.TaskParams:
  """The generators' keyword arguments a `diagnostics` section sets (zero: the generator's default)."""
  mqar = {k: v for k, v in (("num_pairs", d.mqar.num_pairs), ("power_a", d.mqar.power_a)) if v}
  return {"mqar": mqar}


def run_diagnostics(md: MaterializedDesign, c: ml_collections.ConfigDict, scale: str, mesh: Mesh, rules,
                    out_dir: pathlib.Path) -> dict:
  """Trains the design (sized to rung `scale`) on the task mixture; per-task accuracies."""
  return train_on_tasks(md, autosize(md, get_scale(scale)).config, c, mesh, rules, out_dir)


def train_on_tasks(md: MaterializedDesign, model: ModelConfig, c: ml_collections.ConfigDict, mesh: Mesh, rules,
                   out_dir: pathlib.Path) -> dict:
  """Trains a `model`-sized LM of the design on `c.diagnostics`' task mixture and scores each task held out;
  with `stop_accuracy` set, stops once every task reaches it (checked every `eval_every` steps)."""
  d = c.diagnostics
  vocab, params = d.vocab, task_params(d)
  if vocab > model.vocab_size:
    raise ValueError(f"diagnostics.vocab {vocab} is larger than the model's vocabulary {model.vocab_size}")
  schedule = optim.learning_rate_schedule(d.learning_rate, max(1, d.steps // 20), d.steps,
                                          c.train.final_lr_fraction)
  tx = optim.adamw(schedule, b1=c.train.b1, b2=c.train.b2, weight_decay=c.train.weight_decay,
                   clip_norm=c.train.clip_norm)
  scored = max(diagnostics.scored_per_row(name, d.length, vocab, **params.get(name, {})) for name in d.tasks)
  steps = build_steps(lambda: LanguageModel(md, model, rngs=nnx.Rngs(c.seed)), tx, schedule, mesh, rules, d.batch,
                      d.length, compute_dtype(c.train.compute_dtype), c.train.memory_fraction, scored,
                      memory_limit=int(c.train.device_memory_gib * GiB) or None)
  held_out = {name: [_with_bytes(b) for b in diagnostics.task_batches(name, c.seed, d.eval_batches, d.batch,
                                                                      d.length, vocab, params)]
              for name in d.tasks}
  scores = lambda: {name: _accuracy(steps, batches) for name, batches in held_out.items()}
  before = scores()
  out_dir.mkdir(parents=True, exist_ok=True)
  data = map(_with_bytes, diagnostics.mixture_batches(list(d.tasks), c.seed, d.batch, d.length, vocab, params))
  settings = LoopSettings(total_steps=d.steps, tokens_per_step=d.batch * d.length, checkpoint_every=d.steps,
                          log_every=max(1, d.steps // 10), divergence_factor=c.train.divergence_factor,
                          warmup_steps=max(1, d.steps // 20))
  every = d.eval_every if d.stop_accuracy else d.steps
  history = History(out_dir / "history.jsonl", resume_step=0)
  writer = ScalarWriter(out_dir / "tensorboard")
  after, seconds, curve = None, 0.0, []
  try:
    step = 0
    while True:
      end = min(d.steps, step + every)
      outcome = train_loop(steps, data, step, dataclasses.replace(settings, total_steps=end), None, {}, history,
                           writer, StopFlag())
      step, seconds = outcome.steps, seconds + outcome.seconds
      if outcome.status != "completed":
        break
      after = scores()
      curve.append({"step": step, **after})
      if step >= d.steps or min(after.values()) >= d.stop_accuracy > 0:
        break
  finally:
    history.close()
    writer.close()
  result = {"status": outcome.status, "message": outcome.message, "steps": step, "train_seconds": seconds,
            "curve": curve, "model": {"embed_dim": model.embed_dim, "n_layers": model.n_layers}, "tasks": {}}
  for name in held_out:
    result["tasks"][name] = {"accuracy": after[name] if outcome.status == "completed" else None,
                             "random_init": before[name],
                             "chance": diagnostics.chance_accuracy(name, d.length, vocab, **params.get(name, {}))}
  return result
