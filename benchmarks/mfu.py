"""The paper's ladder on one accelerator host: the GPT seed's training step at 14M, 125M and 350M.

    python benchmarks/mfu.py                                     # GPU/TPU: context 2048, 0.5M-token steps
    python benchmarks/mfu.py --plan_only --device_memory_gib 141 --scales 350M   # the gate's plan only
    python benchmarks/mfu.py --scales 14M --length 64 --batch_tokens 512 --steps 2 --verify_steps 2 --eval_batches 2  # CPU

For each rung: the seed auto-sized to it (32k vocabulary), bfloat16 compute over float32 master weights
('auto': float32 on CPU), compiled through the verifier's compile gate, which picks the micro-batch and
the accumulation steps; then `--steps` timed steps on synthetic tokens after one warm-up step. Printed:
tokens/s, MFU (XLA's FLOPs of the step over the device's peak, where the peak is known), peak memory
(the allocator's where it reports one, else XLA's analysis), compile time. With `--verify_steps`, one
whole verification of the GPT seed at 14M through `verify.run.verify` follows (paper config, the bundled
corpus and byte tokens, since no corpus is downloaded here, and no benchmark tasks), with its wall time
by phase.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import jax
import numpy as np
from flax import nnx

from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.scales import LADDERS, get_scale
from genesys_jax.gau.sharding import DEFAULT_RULES, make_mesh
from genesys_jax.gau.sizing import autosize
from genesys_jax.units.seeds import seed_design
from genesys_jax.verify import optim
from genesys_jax.verify.compile_gate import GiB, DoesNotFit, build_steps, fit_steps
from genesys_jax.verify.metrics import mfu
from genesys_jax.verify.steps import compute_dtype

PAPER_RUNGS = tuple(s.name for s in LADDERS["paper"])


def _args(argv: list[str]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--scales", default="14M,125M,350M", help=f"comma-separated, of {', '.join(PAPER_RUNGS)}")
  parser.add_argument("--length", type=int, default=2048)
  parser.add_argument("--batch_tokens", type=int, default=2**19, help="tokens per optimizer step")
  parser.add_argument("--steps", type=int, default=10, help="timed steps per rung")
  parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"))
  parser.add_argument("--device_memory_gib", type=float, default=0.0, help="plan for this memory (0: the device's)")
  parser.add_argument("--memory_fraction", type=float, default=0.9)
  parser.add_argument("--plan_only", action="store_true", help="compile and plan; allocate and train nothing")
  parser.add_argument("--verify_steps", type=int, default=-1,
                      help="then verify the GPT seed at 14M with this cap on its steps and rung 0's (0: the "
                           "rung's budget; -1: skip)")
  parser.add_argument("--eval_batches", type=int, default=40, help="held-out batches of that verification")
  args = parser.parse_args(argv)
  scales = [s for s in args.scales.split(",") if s]
  unknown = [s for s in scales if s not in PAPER_RUNGS]
  problems = [
      (not scales or unknown, f"--scales must name rungs of {', '.join(PAPER_RUNGS)}, got {args.scales!r}"),
      (args.length < 16, f"--length must be at least 16, got {args.length}"),
      (args.batch_tokens < args.length or args.batch_tokens % args.length,
       f"--batch_tokens must be a multiple of --length ({args.length}), got {args.batch_tokens}"),
      (args.steps < 1, f"--steps must be at least 1, got {args.steps}"),
      (args.eval_batches < 1, f"--eval_batches must be at least 1, got {args.eval_batches}"),
      (args.device_memory_gib < 0, "--device_memory_gib must not be negative"),
      (not 0 < args.memory_fraction <= 1, "--memory_fraction must be in (0, 1]"),
  ]
  for bad, message in problems:
    if bad:
      parser.exit(2, f"mfu.py: {message}.\n")
  args.scales = scales
  return args


def _gate(args: argparse.Namespace, scale_name: str) -> tuple[dict, dict]:
  """The gate's arguments for the GPT seed at a rung, and what describes the model."""
  scale = get_scale(scale_name)
  md = seed_design("gpt2").materialize()
  sized = autosize(md, scale).config
  config = ModelConfig(sized.embed_dim, sized.n_layers, scale.vocab_size)
  schedule = optim.learning_rate_schedule(scale.learning_rate, 10, 1000)
  tx = optim.adamw(schedule, b1=0.9, b2=0.95, weight_decay=0.1, clip_norm=1.0)
  mesh = make_mesh({"data": -1})
  gate = dict(model_factory=lambda: LanguageModel(md, config, rngs=nnx.Rngs(0)), tx=tx, schedule=schedule,
              mesh=mesh, rules=DEFAULT_RULES, batch=args.batch_tokens // args.length, length=args.length,
              dtype=compute_dtype(args.dtype), memory_fraction=args.memory_fraction,
              memory_limit=int(args.device_memory_gib * GiB) or None)
  return gate, {"width": sized.embed_dim, "layers": sized.n_layers}


def _peak_memory(device: jax.Device, analysed: int | None) -> str:
  stats = device.memory_stats() if device.platform != "cpu" else None
  if stats and "peak_bytes_in_use" in stats:
    return f"{stats['peak_bytes_in_use'] / GiB:.1f} GiB (allocator)"
  return f"{(analysed or 0) / GiB:.2f} GiB (XLA)"


def _time_rung(args: argparse.Namespace, scale_name: str) -> str:
  gate, shape = _gate(args, scale_name)
  head = f"{scale_name:>5} {shape['width']:>5}x{shape['layers']:<3}"
  try:
    if args.plan_only:
      fitted = fit_steps(**gate)
      return (f"{head} rows {gate['batch']:>4}, micro-batch {fitted.lowered.micro_batch:>4} x "
              f"{fitted.lowered.accumulation:>3} steps, {(fitted.memory_bytes or 0) / GiB:6.1f} GiB (XLA), "
              f"compile {fitted.compile_seconds:6.1f} s, tried {_tried(fitted.tried)}")
    steps = build_steps(**gate)
  except DoesNotFit as e:
    return f"{head} does_not_fit: {e}"
  rng = np.random.default_rng(0)
  rows = gate["batch"] // jax.process_count()
  batch = {"inputs": rng.integers(0, 32000, (rows, args.length), dtype=np.int32),
           "targets": rng.integers(0, 32000, (rows, args.length), dtype=np.int32),
           "weights": np.ones((rows, args.length), np.float32),
           "target_bytes": np.ones((rows, args.length), np.int32)}
  jax.block_until_ready(steps.train(batch))
  start = time.perf_counter()
  for _ in range(args.steps):
    metrics = steps.train(batch)
  jax.block_until_ready(metrics)
  seconds = (time.perf_counter() - start) / args.steps
  device = jax.devices()[0]
  utilization = mfu(steps.flops_per_step, seconds, device)
  tokens = gate["batch"] * args.length / seconds
  line = (f"{head} rows {gate['batch']:>4}, micro-batch {steps.micro_batch:>4} x {steps.accumulation:>3} steps, "
          f"{tokens:12,.0f} tok/s, MFU {'n/a' if utilization is None else f'{utilization:.1%}'}, "
          f"peak {_peak_memory(device, steps.memory_bytes)}, compile {steps.compile_seconds:.1f} s")
  del steps
  return line


def _tried(tried: dict[int, int]) -> str:
  return ", ".join(f"{m} rows: {b / GiB:.1f} GiB" for m, b in sorted(tried.items(), reverse=True)) or "none"


def _verify_14m(args: argparse.Namespace) -> None:
  """One whole paper-config verification at 14M; prints its wall time by phase."""
  import runpy  # pylint: disable=import-outside-toplevel
  from genesys_jax.verify.run import verify  # pylint: disable=import-outside-toplevel
  c = runpy.run_path(str(pathlib.Path(__file__).parents[1] / "configs" / "paper.py"))["get_config"]("offline")
  c = c.verify.copy_and_resolve_references()
  c.data.source, c.data.tokenizer, c.eval.tfds_tasks = "bundled", "byte", ()
  c.train.max_steps = args.verify_steps
  c.train.batch_tokens = max(args.batch_tokens, get_scale("14M").seq_len * jax.device_count())  # a row a device
  c.diagnostics.steps = args.verify_steps or c.diagnostics.steps
  c.eval.max_batches = args.eval_batches
  c.train.compute_dtype = args.dtype
  c.mesh.data = -1
  with tempfile.TemporaryDirectory(prefix="mfu_verify_") as workdir:
    start = time.perf_counter()
    result = verify(seed_design("gpt2"), "14M", workdir, c)
    wall = time.perf_counter() - start
  train = result.get("train", {})
  phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.get("timings", {}).items())
  print(f"verify 14M: {result['status']} in {wall:.1f} s, {train.get('steps')} steps of "
        f"{result['budget']['batch']} x {result['budget']['length']} tokens, micro-batch {train.get('micro_batch')} "
        f"x {train.get('accumulation_steps')}, {train.get('tokens_per_second') or 0:,.0f} tok/s, "
        f"MFU {train.get('mfu')}; {phases}")


def main(argv: list[str]) -> None:
  args = _args(argv)
  device = jax.devices()[0]
  print(f"{jax.device_count()} x {device.device_kind} ({device.platform}), context {args.length}, "
        f"{args.batch_tokens:,} tokens a step, compute {jax.numpy.dtype(compute_dtype(args.dtype)).name}")
  for scale_name in args.scales:
    print(_time_rung(args, scale_name), flush=True)
  if args.verify_steps >= 0 and not args.plan_only:
    _verify_14m(args)


if __name__ == "__main__":
  main(sys.argv[1:])
