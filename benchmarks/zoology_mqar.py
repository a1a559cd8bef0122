"""Zoology's MQAR figure (Arora et al., ICLR 2024, Fig. 2) reproduced through the project's rung-0 code.

    python benchmarks/zoology_mqar.py [--cells 64:4,128:8,256:16] [--mixers gpt2,mamba2,retnet,rwkv6]
        [--width 64] [--learning_rates 1e-4,4.6e-4,2.2e-3,1e-2] [--steps 1500] [--batch 64]

Each seed design is composed by the project's composer at width `--width` (attention with
`--attention_layers` layers, every other mixer with `--other_layers`, as at Zoology's ICLR tag), trained by
`rung_zero.train_on_tasks` (the verifier's compiled AdamW step and loop) on the project's MQAR generator
alone, for each learning rate; the best held-out accuracy over the learning rates is reported, as in the
figure, next to the paper's values.

The task follows Zoology's protocol: vocabulary 8,192, keys and values from disjoint halves of it, every
key queried once, query slots drawn with Zoology's power law (`power_a` 0.01), filler between queries,
only the token after each query key scored, weight decay 0.1, cosine decay to 0, early stop once the
held-out accuracy passes 0.99. Where it differs, by design or by budget:
- The four top ids are the generator's special ids (the filler is the pad id rather than 0), so keys and
  values come from 4,094 ids each rather than 4,095.
- Blocks are the project's seeds as they are (each with its MLP, RMSNorm, and the GPT2 seed's rotary
  positions) rather than Zoology's identity state mixer and learned positional embeddings; no dropout.
- Values are drawn with replacement within a row (Zoology draws them without); keys are distinct.
- The training budget is `--steps` steps of `--batch` rows (Zoology: up to 64 epochs of 100,000 rows at
  batch 512 for T <= 128), and the held-out set is `--eval_rows` rows rather than 3,000, because this runs
  on CPUs. A cell that has not reached 0.99 within the budget may still climb with more steps; the
  ordering between mixers, not single cells, is what the paper's numbers support.
Zoology has no Mamba2 or RetNet column; the paper's RWKV column (RWKV-4) is printed beside RWKV6.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import jax

from genesys_jax.gau.composer import ModelConfig
from genesys_jax.gau.sharding import make_mesh
from genesys_jax.units.seeds import SEED_NAMES, seed_design
from genesys_jax.verify import diagnostics, settings
from genesys_jax.verify.rung_zero import train_on_tasks

ATTENTION = "gpt2"
POWER_A = 0.01
# Figure 2 at d_model 64 and 128 (read as in shared reference notes): T -> (attention, RWKV) per width.
PAPER = {64: {64: (1.00, 0.77), 128: (1.00, 0.18), 256: (1.00, 0.05), 512: (1.00, 0.01)},
         128: {64: (1.00, 0.92), 128: (1.00, 0.50), 256: (1.00, 0.06), 512: (1.00, 0.02)}}


def _cells(text: str) -> list[tuple[int, int]]:
  """`64:4,128:8` -> [(64, 4), (128, 8)]."""
  try:
    return [(int(t), int(kv)) for t, kv in (cell.split(":") for cell in text.split(","))]
  except ValueError:
    raise argparse.ArgumentTypeError(f"cells must look like 64:4,128:8 (length:pairs), got {text!r}") from None


def _floats(text: str) -> list[float]:
  try:
    return [float(v) for v in text.split(",")]
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def cell_config(length: int, pairs: int, lr: float, args: argparse.Namespace):
  """The verify config that trains one (length, pairs, learning rate) cell of the figure."""
  c = settings.verify_config()
  c.seed = args.train_seed
  d = c.diagnostics
  d.tasks, d.length, d.vocab, d.batch, d.steps = ("mqar",), length, args.vocab, args.batch, args.steps
  d.learning_rate, d.eval_batches = lr, max(1, args.eval_rows // args.batch)
  d.mqar.num_pairs, d.mqar.power_a = pairs, POWER_A
  d.stop_accuracy, d.eval_every = 0.99, args.eval_every
  c.train.weight_decay, c.train.final_lr_fraction = 0.1, 0.0
  return c


def check_arguments(args: argparse.Namespace) -> str | None:
  """One sentence naming the first argument out of range, or None."""
  if args.width < 16 or args.batch < 1 or args.steps < 1 or args.eval_every < 1 or args.eval_rows < 1:
    return "--width must be at least 16 and --batch, --steps, --eval_every and --eval_rows at least 1"
  unknown = [m for m in args.mixers if m not in SEED_NAMES]
  if unknown:
    return f"unknown mixer {unknown[0]!r}; the seeds are {', '.join(SEED_NAMES)}"
  if any(lr <= 0 for lr in args.learning_rates):
    return "learning rates must be positive"
  for length, pairs in args.cells:
    try:
      diagnostics.chance_accuracy("mqar", length, args.vocab, num_pairs=pairs, power_a=POWER_A)
    except ValueError as e:
      return f"cell {length}:{pairs} with vocabulary {args.vocab}: {e}"
  return None


def run_cell(mixer: str, length: int, pairs: int, args: argparse.Namespace, workdir: pathlib.Path) -> dict:
  """The best held-out accuracy over the learning rates for one mixer and cell, with what each lr gave."""
  md = seed_design(mixer).materialize()
  layers = args.attention_layers if mixer == ATTENTION else args.other_layers
  model = ModelConfig(args.width, layers, args.vocab)
  mesh = make_mesh({"data": 1}, jax.devices()[:1])
  per_lr = {}
  for lr in sorted(args.learning_rates, reverse=True):  # the fast rates solve a cell soonest
    c = cell_config(length, pairs, lr, args)
    start = time.perf_counter()
    r = train_on_tasks(md, model, c, mesh, settings.sharding_rules(c), workdir / f"{mixer}_{length}_{lr:g}")
    acc = r["tasks"]["mqar"]["accuracy"]
    per_lr[lr] = {"accuracy": acc if acc is not None else 0.0, "steps": r["steps"], "status": r["status"],
                  "seconds": time.perf_counter() - start}
    print(f"  {mixer:7s} T={length:<4d} kv={pairs:<3d} lr={lr:<8.2g} acc={per_lr[lr]['accuracy']:.3f} "
          f"steps={r['steps']:<5d} {r['status']:9s} {per_lr[lr]['seconds']:6.1f} s", flush=True)
    if per_lr[lr]["accuracy"] >= 0.99:
      break  # the figure reports the max over learning rates; nothing beats a solved cell
  best = max(per_lr, key=lambda lr: per_lr[lr]["accuracy"])
  return {"accuracy": per_lr[best]["accuracy"], "lr": best, "seconds": sum(v["seconds"] for v in per_lr.values())}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--cells", type=_cells, default=_cells("64:4,128:8,256:16"))
  parser.add_argument("--mixers", type=lambda s: s.split(","), default=["gpt2", "mamba2", "retnet", "rwkv6"])
  parser.add_argument("--width", type=int, default=64)
  parser.add_argument("--attention_layers", type=int, default=2)
  parser.add_argument("--other_layers", type=int, default=4)
  parser.add_argument("--vocab", type=int, default=8192)
  parser.add_argument("--learning_rates", type=_floats, default=_floats("1e-4,4.6e-4,2.2e-3,1e-2"))
  parser.add_argument("--steps", type=int, default=1500)
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--eval_every", type=int, default=100)
  parser.add_argument("--eval_rows", type=int, default=512)
  parser.add_argument("--train_seed", type=int, default=0)
  try:
    args = parser.parse_args()
  except SystemExit as e:
    sys.exit(2 if e.code else 0)
  problem = check_arguments(args)
  if problem:
    print(f"error: {problem}", file=sys.stderr)
    sys.exit(2)
  started = time.perf_counter()
  table: dict[tuple[int, int], dict[str, dict]] = {}
  with tempfile.TemporaryDirectory(prefix="zoology_mqar_") as tmp:
    for length, pairs in args.cells:
      for mixer in args.mixers:
        table.setdefault((length, pairs), {})[mixer] = run_cell(mixer, length, pairs, args, pathlib.Path(tmp))
  paper = PAPER.get(args.width, {})
  print(f"\nMQAR accuracy, width {args.width}, best of {len(args.learning_rates)} learning rates, "
        f"{args.steps} steps x {args.batch} rows at most, {jax.devices()[0].platform}")
  print(f"{'T (kv)':9s} " + " ".join(f"{m:>8s}" for m in args.mixers) + f" {'paper attn':>11s} {'paper RWKV':>11s}")
  for (length, pairs), row in table.items():
    attn, rwkv = paper.get(length, (float("nan"), float("nan")))
    print(f"{f'{length} ({pairs})':9s} " + " ".join(f"{row[m]['accuracy']:8.3f}" for m in args.mixers)
          + f" {attn:11.2f} {rwkv:11.2f}")
  print(f"total {time.perf_counter() - started:.0f} s on {jax.local_device_count()} device(s)")


if __name__ == "__main__":
  main()
