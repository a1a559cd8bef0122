"""Rung 0 of the ladder: train a small model of the design on the synthetic diagnostics and report
each task's accuracy next to the untrained model's and chance."""

from __future__ import annotations

import pathlib

import ml_collections
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from genesys_jax.gau.composer import LanguageModel
from genesys_jax.gau.design import MaterializedDesign
from genesys_jax.gau.scales import get_scale
from genesys_jax.gau.sizing import autosize
from genesys_jax.verify import diagnostics, optim
from genesys_jax.verify.scalar_writer import ScalarWriter
from genesys_jax.verify.steps import build_steps, compute_dtype
from genesys_jax.verify.train import History, LoopSettings, StopFlag, train_loop


def _with_bytes(batch: diagnostics.Batch) -> dict[str, np.ndarray]:
  return {**batch, "target_bytes": (batch["weights"] > 0).astype(np.int32)}


def run_diagnostics(md: MaterializedDesign, c: ml_collections.ConfigDict, mesh: Mesh, rules,
                    out_dir: pathlib.Path) -> dict:
  """Trains the design (sized to `c.diagnostics.scale`) on the task mixture; per-task accuracies."""
  d = c.diagnostics
  sized = autosize(md, get_scale(d.scale)).config
  vocab = d.vocab
  if vocab > sized.vocab_size:
    raise ValueError(f"diagnostics.vocab {vocab} is larger than the model's vocabulary {sized.vocab_size}")
  schedule = optim.learning_rate_schedule(d.learning_rate, max(1, d.steps // 20), d.steps,
                                          c.train.final_lr_fraction)
  tx = optim.adamw(schedule, b1=c.train.b1, b2=c.train.b2, weight_decay=c.train.weight_decay,
                   clip_norm=c.train.clip_norm)
  steps = build_steps(lambda: LanguageModel(md, sized, rngs=nnx.Rngs(c.seed)), tx, schedule, mesh, rules, d.batch,
                      d.length, compute_dtype(c.train.compute_dtype), c.train.memory_fraction)
  held_out = {name: [_with_bytes(b) for b in diagnostics.task_batches(name, c.seed, d.eval_batches, d.batch,
                                                                      d.length, vocab)]
              for name in d.tasks}
  before = {name: diagnostics.accuracy(steps.forward, batches) for name, batches in held_out.items()}
  out_dir.mkdir(parents=True, exist_ok=True)
  data = map(_with_bytes, diagnostics.mixture_batches(list(d.tasks), c.seed, d.batch, d.length, vocab))
  settings = LoopSettings(total_steps=d.steps, tokens_per_step=d.batch * d.length, checkpoint_every=d.steps,
                          log_every=max(1, d.steps // 10), divergence_factor=c.train.divergence_factor,
                          warmup_steps=max(1, d.steps // 20))
  history = History(out_dir / "history.jsonl", resume_step=0)
  writer = ScalarWriter(out_dir / "tensorboard")
  try:
    outcome = train_loop(steps, data, 0, settings, None, {}, history, writer, StopFlag())
  finally:
    history.close()
    writer.close()
  result = {"status": outcome.status, "message": outcome.message, "steps": outcome.steps,
            "model": {"embed_dim": sized.embed_dim, "n_layers": sized.n_layers}, "tasks": {}}
  for name, batches in held_out.items():
    after = diagnostics.accuracy(steps.forward, batches) if outcome.status == "completed" else None
    result["tasks"][name] = {"accuracy": after, "random_init": before[name],
                             "chance": diagnostics.chance_accuracy(name, d.length, vocab)}
  return result
