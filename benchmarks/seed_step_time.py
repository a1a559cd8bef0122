"""Training-step speed and memory of the five seeds at one rung, side by side in one run.

    python benchmarks/seed_step_time.py --scale micro3 --batch 8 --rounds 5 --steps 5

Each seed is auto-sized to the rung; its AdamW step is compiled once (compile time and XLA's memory
analysis of the step, arguments included, are printed), then the seeds are timed in alternating rounds and the median step time
is reported, since this machine is noisy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
from flax import nnx

from genesys_jax.check import probes
from genesys_jax.gau.composer import LanguageModel
from genesys_jax.gau.scales import get_scale
from genesys_jax.gau.sizing import SizedModel, autosize
from genesys_jax.units.seeds import SEED_NAMES, seed_design


def build_step(name: str, scale_name: str, batch: int) -> tuple[probes.CompiledStep, jax.Array, SizedModel]:
  """The seed auto-sized to the rung, its compiled train step and one batch."""
  scale = get_scale(scale_name)
  md = seed_design(name).materialize()
  sized = autosize(md, scale)
  model = LanguageModel(md, sized.config, rngs=nnx.Rngs(0))
  tokens = jax.random.randint(jax.random.key(0), (batch, scale.seq_len + 1), 0, scale.vocab_size)
  return probes.compile_train_step(model, scale.learning_rate, tokens), tokens, sized


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--scale", default="micro3")
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--seeds", default=",".join(SEED_NAMES))
  args = parser.parse_args()
  seeds = args.seeds.split(",")
  built = {s: build_step(s, args.scale, args.batch) for s in seeds}
  times: dict[str, list[float]] = {s: [] for s in seeds}
  for s in seeds:  # warm-up step
    built[s][0](built[s][1]).block_until_ready()
  for _ in range(args.rounds):
    for s in seeds:
      step, tokens, _ = built[s]
      start = time.perf_counter()
      for _ in range(args.steps):
        loss = step(tokens)
      loss.block_until_ready()
      times[s].append((time.perf_counter() - start) / args.steps)
  scale = get_scale(args.scale)
  tokens_per_step = args.batch * scale.seq_len
  print(f"scale {args.scale}, batch {args.batch} x {scale.seq_len} tokens, {jax.devices()[0].platform}, "
        f"median of {args.rounds} rounds x {args.steps} steps")
  print(f"{'seed':8s} {'shape':>9s} {'params':>10s} {'compile s':>10s} {'mem MiB':>9s} {'step ms':>8s} "
        f"{'tokens/s':>9s} {'vs gpt2':>8s}")
  base = statistics.median(times[seeds[0]])
  for s in seeds:
    step, _, sized = built[s]
    med = statistics.median(times[s])
    mem_mb = step.memory_bytes / 2**20 if step.memory_bytes else float("nan")
    print(f"{s:8s} {'d%dx%d' % (sized.config.embed_dim, sized.config.n_layers):>9s} {sized.params:>10,d} "
          f"{step.compile_seconds:>10.2f} {mem_mb:>9.1f} {med * 1e3:>8.1f} {tokens_per_step / med:>9,.0f} "
          f"{med / base:>7.2f}x")


if __name__ == "__main__":
  main()
