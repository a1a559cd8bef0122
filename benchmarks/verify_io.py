"""Data pipeline throughput and Orbax checkpoint save/restore time of the verification engine.

    python benchmarks/verify_io.py --rounds 3 [--workers 2] [--sentencepiece_vocab 8000]

The pipeline must never be the bottleneck: compare its tokens/s with the training step's (about
1e5 tokens/s for the micro rungs on 2 CPU cores), and with what the paper's 14M and 125M steps would
consume on an H200 at the MFU goals (XLA's FLOPs per token of the GPT seed's step over 40% / 50% of
989 TFLOP/s). Side by side: the time the training thread waits for a batch while a step that releases
the GIL (as a device step does) takes as long as one batch takes to prepare, with the batches prepared
in that thread (`data.prefetch=0`) and ahead by a background thread (4). Checkpoints are the full
training state (float32 weights and both AdamW moments) of the GPT seed at several widths, saved and
restored through the same `Checkpoints` class the trainer uses; medians over rounds.
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
from genesys_jax.gau.scales import get_scale
from genesys_jax.gau.sharding import DEFAULT_RULES, make_mesh
from genesys_jax.gau.sizing import autosize
from genesys_jax.units.seeds import seed_design
from genesys_jax.verify import corpus, optim, pipeline
from genesys_jax.verify.checkpoints import Checkpoints
from genesys_jax.verify.compile_gate import build_steps
from genesys_jax.verify.metrics import PEAK_FLOPS_PER_DEVICE
from genesys_jax.verify.steps import lower_steps
from genesys_jax.verify.tokenizer import ByteTokenizer, Tokenizer, make_tokenizer, train_sentencepiece


def pipeline_tokens_per_second(tokenizer: Tokenizer, length: int, batch: int, batches: int, workers: int = 0) -> float:
  """Packed training batches per second from the bundled corpus (in `workers` processes), times their tokens."""
  it = iter(pipeline.lm_dataset(corpus.bundled_documents("train"), tokenizer, length, batch, train=True,
                                workers=workers, prefetch=4 if workers else 0))
  next(it)
  start = time.perf_counter()
  for _ in range(batches):
    next(it)
  rate = batches * batch * length / (time.perf_counter() - start)
  it.close()
  return rate


def waits_per_batch(tokenizer: Tokenizer, length: int, batch: int, batches: int, prefetch: int,
                    step_seconds: float) -> float:
  """Median seconds the training thread waits in `next()` while each step sleeps `step_seconds`."""
  it = iter(pipeline.lm_dataset(corpus.bundled_documents("train"), tokenizer, length, batch, train=True,
                                prefetch=prefetch))
  next(it)
  waits = []
  for _ in range(batches):
    start = time.perf_counter()
    next(it)
    waits.append(time.perf_counter() - start)
    time.sleep(step_seconds)
  it.close()
  return statistics.median(waits)


def paper_step_tokens_per_second(scale_name: str, mfu: float) -> float:
  """Tokens/s the GPT seed's step at a paper rung consumes on an H200 at `mfu` (XLA's FLOPs of one row)."""
  scale = get_scale(scale_name)
  md = seed_design("gpt2").materialize()
  sized = autosize(md, scale).config
  schedule = optim.learning_rate_schedule(1e-3, 1, 10)
  tx = optim.adamw(schedule, b1=0.9, b2=0.95, weight_decay=0.1, clip_norm=1.0)
  config = ModelConfig(sized.embed_dim, sized.n_layers, scale.vocab_size)
  lowered = lower_steps(lambda: LanguageModel(md, config, rngs=nnx.Rngs(0)), tx, schedule,
                        make_mesh({"data": 1}, jax.devices()[:1]), DEFAULT_RULES, 1, scale.seq_len, jax.numpy.bfloat16)
  flops_per_token = lowered.train_step.cost_analysis()["flops"] / scale.seq_len
  return mfu * PEAK_FLOPS_PER_DEVICE["H200"] / flops_per_token


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
  parser.add_argument("--workers", type=int, default=2, help="also the rate packed in this many processes")
  parser.add_argument("--sentencepiece_vocab", type=int, default=0, help="also a SentencePiece model of this "
                      "many pieces, trained on the bundled corpus first (0: byte tokens only)")
  args = parser.parse_args()
  for bad, message in ((args.rounds < 1 or args.batches < 3, "--rounds must be at least 1 and --batches at least 3"),
                       (args.workers < 1, "--workers must be at least 1"),
                       (args.sentencepiece_vocab and args.sentencepiece_vocab < 300,
                        "--sentencepiece_vocab must be 0 or at least 300 (256 byte pieces and room to merge)")):
    if bad:
      parser.exit(2, f"verify_io.py: {message}.\n")
  with tempfile.TemporaryDirectory() as tmp:
    tokenizers = {"byte": ByteTokenizer()}
    if args.sentencepiece_vocab:
      model = train_sentencepiece(corpus.bundled_documents("train"), pathlib.Path(tmp) / "spm",
                                  args.sentencepiece_vocab)
      tokenizers[f"spm{args.sentencepiece_vocab}"] = make_tokenizer("sentencepiece", str(model))
    print("data pipeline (bundled corpus, packing + loss weights); wait: the training thread's median wait")
    print(f"{'tokens':>9} {'length':>7} {'batch':>6} {'tokens/s':>12} {f'{args.workers} workers':>12} "
          f"{'wait, in loop':>14} {'wait, prefetch 4':>17}")
    for name, tokenizer in tokenizers.items():
      for length, batch in ((128, 32), (256, 16), (2048, 8)):
        rate = statistics.median(pipeline_tokens_per_second(tokenizer, length, batch, args.batches)
                                 for _ in range(args.rounds))
        step = batch * length / rate   # a step as long as preparing its batch takes
        in_workers = pipeline_tokens_per_second(tokenizer, length, batch, args.batches, args.workers)
        waits = [waits_per_batch(tokenizer, length, batch, args.batches // 3, prefetch, step) for prefetch in (0, 4)]
        print(f"{name:>9} {length:>7} {batch:>6} {rate:>12,.0f} {in_workers:>12,.0f} {waits[0] * 1e3:>11.2f} ms "
              f"{waits[1] * 1e3:>14.2f} ms")
  print("\nwhat the paper's steps consume on an H200 (GPT seed, context 2048, XLA's FLOPs per token)")
  for scale_name in ("14M", "125M"):
    rates = ", ".join(f"{paper_step_tokens_per_second(scale_name, mfu):,.0f} tokens/s at {mfu:.0%} MFU"
                      for mfu in (0.4, 0.5))
    print(f"{scale_name:>5}: {rates}")
  print("\ncheckpoints (GPT seed: weights + AdamW moments, float32; Orbax, async save)")
  print(f"{'model':>10} {'state MB':>9} {'save returns s':>15} {'save done s':>12} {'restore s':>10}")
  for width, layers in ((64, 2), (256, 6), (512, 6), (768, 12)):
    size, started, finished, restored = checkpoint_seconds(width, layers, args.rounds)
    print(f"{f'd{width}x{layers}':>10} {size / 2**20:>9.1f} {started:>15.3f} {finished:>12.3f} {restored:>10.3f}")


if __name__ == "__main__":
  main()
