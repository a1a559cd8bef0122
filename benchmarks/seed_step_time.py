"""Training-step speed and memory of the five seeds at one rung, side by side in one run.

    python benchmarks/seed_step_time.py --scale micro3 --batch 8 --rounds 5 --steps 5

Each seed is auto-sized to the rung; its jitted AdamW step is compiled once (compile time and XLA's
memory analysis are printed), then the seeds are timed in alternating rounds and the median step time
is reported, since this machine is noisy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import optax
from flax import nnx

from genesys_jax.check.probes import next_token_loss
from genesys_jax.gau.composer import LanguageModel
from genesys_jax.gau.scales import get_scale
from genesys_jax.gau.sizing import autosize
from genesys_jax.units.seeds import SEED_NAMES, seed_design


def build_step(name: str, scale_name: str, batch: int):
  """The seed's compiled train step, its state, a batch, and compile figures."""
  scale = get_scale(scale_name)
  md = seed_design(name).materialize()
  sized = autosize(md, scale)
  model = LanguageModel(md, sized.config, rngs=nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, optax.adamw(scale.learning_rate), wrt=nnx.Param)
  graphdef, state = nnx.split((model, optimizer))

  def step(state, tokens):
    m, opt = nnx.merge(graphdef, state)
    loss, grads = nnx.value_and_grad(next_token_loss)(m, tokens)
    opt.update(m, grads)
    return nnx.state((m, opt)), loss

  tokens = jax.random.randint(jax.random.key(0), (batch, scale.seq_len + 1), 0, scale.vocab_size)
  start = time.perf_counter()
  compiled = jax.jit(step, donate_argnums=0).lower(state, tokens).compile()
  compile_s = time.perf_counter() - start
  mem = compiled.memory_analysis()
  temp_mb = getattr(mem, "temp_size_in_bytes", 0) / 2**20 if mem is not None else float("nan")
  return compiled, state, tokens, sized, compile_s, temp_mb


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
  states = {s: b[1] for s, b in built.items()}
  times: dict[str, list[float]] = {s: [] for s in seeds}
  for s in seeds:  # warm-up step
    states[s], loss = built[s][0](states[s], built[s][2])
    loss.block_until_ready()
  for _ in range(args.rounds):
    for s in seeds:
      compiled, _, tokens, *_ = built[s]
      start = time.perf_counter()
      for _ in range(args.steps):
        states[s], loss = compiled(states[s], tokens)
      loss.block_until_ready()
      times[s].append((time.perf_counter() - start) / args.steps)
  scale = get_scale(args.scale)
  tokens_per_step = args.batch * scale.seq_len
  print(f"scale {args.scale}, batch {args.batch} x {scale.seq_len} tokens, {jax.devices()[0].platform}, "
        f"median of {args.rounds} rounds x {args.steps} steps")
  print(f"{'seed':8s} {'shape':>9s} {'params':>10s} {'compile s':>10s} {'temp MiB':>9s} {'step ms':>8s} "
        f"{'tokens/s':>9s} {'vs gpt2':>8s}")
  base = statistics.median(times[seeds[0]])
  for s in seeds:
    _, _, _, sized, compile_s, temp_mb = built[s]
    med = statistics.median(times[s])
    print(f"{s:8s} {'d%dx%d' % (sized.config.embed_dim, sized.config.n_layers):>9s} {sized.params:>10,d} "
          f"{compile_s:>10.2f} {temp_mb:>9.1f} {med * 1e3:>8.1f} {tokens_per_step / med:>9,.0f} "
          f"{med / base:>7.2f}x")


if __name__ == "__main__":
  main()
