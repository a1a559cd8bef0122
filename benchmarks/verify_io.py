"""Data pipeline throughput and Orbax checkpoint save/restore time of the verification engine.

    python benchmarks/verify_io.py --rounds 3

The pipeline must never be the bottleneck: compare its tokens/s with the training step's (about
1e5 tokens/s for the micro rungs on 2 CPU cores). Checkpoints are the full training state (float32
weights and both AdamW moments) of the GPT seed at several widths, saved and restored through the
same `Checkpoints` class the trainer uses; medians over rounds.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile
import time

import jax
from flax import nnx

from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.sharding import DEFAULT_RULES, make_mesh
from genesys_jax.units.seeds import seed_design
from genesys_jax.verify import corpus, optim, pipeline
from genesys_jax.verify.checkpoints import Checkpoints
from genesys_jax.verify.compile_gate import build_steps
from genesys_jax.verify.tokenizer import ByteTokenizer


def pipeline_tokens_per_second(length: int, batch: int, batches: int) -> float:
  """Packed training batches per second from the bundled corpus, times their tokens."""
  it = iter(pipeline.lm_dataset(corpus.bundled_documents("train"), ByteTokenizer(), length, batch, train=True))
  next(it)
  start = time.perf_counter()
  for _ in range(batches):
    next(it)
  return batches * batch * length / (time.perf_counter() - start)


def checkpoint_seconds(width: int, layers: int, rounds: int) -> tuple[int, float, float, float]:
  """State bytes, and median seconds to start a save, to finish it, and to restore it."""
  md = seed_design("gpt2").materialize()
  schedule = optim.learning_rate_schedule(1e-3, 1, 10)
  tx = optim.adamw(schedule, b1=0.9, b2=0.95, weight_decay=0.1, clip_norm=1.0)
  steps = build_steps(lambda: LanguageModel(md, ModelConfig(width, layers, 260), rngs=nnx.Rngs(0)), tx,
                      schedule, make_mesh({"data": 1}, jax.devices()[:1]), DEFAULT_RULES, 1, 16, jax.numpy.float32)
  data = iter(pipeline.lm_dataset(corpus.bundled_documents("train"), ByteTokenizer(), 16, 1, train=True))
  size = sum(x.nbytes for x in jax.tree.leaves(steps.state))
  started, finished, restored = [], [], []
  with tempfile.TemporaryDirectory() as tmp:
    ckpt = Checkpoints(pathlib.Path(tmp), keep=2)
    for r in range(rounds):
      t0 = time.perf_counter()
      ckpt.save(r + 1, steps.state, data, {"fingerprint": {}})
      t1 = time.perf_counter()
      ckpt.wait()
      t2 = time.perf_counter()
      ckpt.restore_latest(steps.state, data, {})
      t3 = time.perf_counter()
      started.append(t1 - t0)
      finished.append(t2 - t0)
      restored.append(t3 - t2)
    ckpt.close()
  return size, statistics.median(started), statistics.median(finished), statistics.median(restored)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--batches", type=int, default=300)
  args = parser.parse_args()
  print("data pipeline (bundled corpus, byte tokenizer, packing + loss weights)")
  print(f"{'length':>7} {'batch':>6} {'tokens/s':>12}")
  for length, batch in ((128, 32), (256, 16), (2048, 8)):
    rates = [pipeline_tokens_per_second(length, batch, args.batches) for _ in range(args.rounds)]
    print(f"{length:>7} {batch:>6} {statistics.median(rates):>12,.0f}")
  print("\ncheckpoints (GPT seed: weights + AdamW moments, float32; Orbax, async save)")
  print(f"{'model':>10} {'state MB':>9} {'save returns s':>15} {'save done s':>12} {'restore s':>10}")
  for width, layers in ((64, 2), (256, 6), (512, 6), (768, 12)):
    size, started, finished, restored = checkpoint_seconds(width, layers, args.rounds)
    print(f"{f'd{width}x{layers}':>10} {size / 2**20:>9.1f} {started:>15.3f} {finished:>12.3f} {restored:>10.3f}")


if __name__ == "__main__":
  main()
