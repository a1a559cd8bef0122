"""Training throughput of the GPT seed on CPU: JAX's production step against an equivalent PyTorch eager model.

    python benchmarks/train_throughput.py --rounds 5 --steps 4 --sizes 64x2,128x4

Byte vocabulary (260, padded to 264), sequence 256, batch 16, float32. The JAX side is the seed composed
by `LanguageModel` and trained by `verify.compile_gate.build_steps` with `verify.optim.adamw`. The PyTorch side
is the same network written here (pre-RMSNorm blocks, causal attention with rotary embeddings through
`scaled_dot_product_attention`, the SwiGLU MLP, tied embeddings), started from the JAX model's initial
weights and trained by `torch.optim.AdamW` with gradient clipping. The first losses of the two must agree.
JAX and torch alternate within each of `--rounds` rounds; tokens/s are medians over rounds, and the ratio is
the median of the per-round ratios (the machine is noisy: differences under ~8% are noise). A round during which
other processes kept a tenth of a core or more busy is run again (torch's threads slow down badly when they share
the cores), at most `--rounds` times.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F
from flax import nnx

from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.gau.sharding import DEFAULT_RULES, make_mesh
from genesys_jax.units.seeds import seed_design
from genesys_jax.verify import optim
from genesys_jax.verify.compile_gate import CompiledSteps, build_steps

VOCAB, LENGTH, BATCH = 260, 256, 16
PEAK_LR, WARMUP, TOTAL, B1, B2, WEIGHT_DECAY, CLIP = 1e-3, 10, 1000, 0.9, 0.95, 0.1, 1.0


def rms_norm(x_BxLxD: torch.Tensor, scale_D: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
  """`x / rms(x) * scale` over the last axis, as `ops.rms_norm`."""
  return x_BxLxD * torch.rsqrt(x_BxLxD.pow(2).mean(-1, keepdim=True) + eps) * scale_D


class TorchBlock(torch.nn.Module):
  """One pre-norm block: causal rotary attention, then the SwiGLU MLP, each added to the residual."""

  def __init__(self, weights: dict[str, np.ndarray]):
    super().__init__()
    self.weights = torch.nn.ParameterDict({k: torch.nn.Parameter(torch.tensor(np.asarray(v)))
                                           for k, v in weights.items()})

  def forward(self, x_BxLxD: torch.Tensor, cos_LxK2: torch.Tensor, sin_LxK2: torch.Tensor) -> torch.Tensor:
    w = self.weights
    b, l, d = x_BxLxD.shape
    _, _, h, k = w["w_qkv"].shape
    h_BxLxD = rms_norm(x_BxLxD, w["norm1"])
    qkv_3xBxHxLxK = (h_BxLxD @ w["w_qkv"].reshape(d, 3 * h * k)).view(b, l, 3, h, k).permute(2, 0, 3, 1, 4)
    q_BxHxLxK, k_BxHxLxK = (rotary(t, cos_LxK2, sin_LxK2) for t in (qkv_3xBxHxLxK[0], qkv_3xBxHxLxK[1]))
    o_BxHxLxK = F.scaled_dot_product_attention(q_BxHxLxK, k_BxHxLxK, qkv_3xBxHxLxK[2], is_causal=True)
    x_BxLxD = x_BxLxD + o_BxHxLxK.transpose(1, 2).reshape(b, l, h * k) @ w["w_out"].reshape(h * k, d)
    h_BxLxD = rms_norm(x_BxLxD, w["norm2"])
    gate_up_BxLx2xF = (h_BxLxD @ w["w_gate_up"].reshape(d, -1)).view(b, l, 2, -1)
    return x_BxLxD + (F.silu(gate_up_BxLx2xF[:, :, 0]) * gate_up_BxLx2xF[:, :, 1]) @ w["w_down"]


def rotary(x_BxHxLxK: torch.Tensor, cos_LxK2: torch.Tensor, sin_LxK2: torch.Tensor) -> torch.Tensor:
  """Rotary embedding on split halves of the last axis, as `ops.rotary`."""
  x1, x2 = x_BxHxLxK.chunk(2, dim=-1)
  return torch.cat([x1 * cos_LxK2 - x2 * sin_LxK2, x2 * cos_LxK2 + x1 * sin_LxK2], dim=-1)


class TorchGPT(torch.nn.Module):
  """The GPT seed as a PyTorch module: embedding, blocks, final RMSNorm, tied head over the padded vocabulary."""

  def __init__(self, embed_VxD: np.ndarray, blocks: list[dict[str, np.ndarray]], final_norm_D: np.ndarray,
               head_dim: int, rope_base: float):
    super().__init__()
    self.embed = torch.nn.Parameter(torch.tensor(np.asarray(embed_VxD)))
    self.blocks = torch.nn.ModuleList(TorchBlock(w) for w in blocks)
    self.final_norm = torch.nn.Parameter(torch.tensor(np.asarray(final_norm_D)))
    inv_freq_K2 = 1.0 / rope_base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angle_LxK2 = torch.arange(LENGTH, dtype=torch.float32)[:, None] * inv_freq_K2[None, :]
    self.register_buffer("cos_LxK2", angle_LxK2.cos())
    self.register_buffer("sin_LxK2", angle_LxK2.sin())

  def forward(self, tokens_BxL: torch.Tensor) -> torch.Tensor:
    x_BxLxD = self.embed[tokens_BxL]
    for block in self.blocks:
      x_BxLxD = block(x_BxLxD, self.cos_LxK2, self.sin_LxK2)
    return (rms_norm(x_BxLxD, self.final_norm) @ self.embed.T)[..., :VOCAB]


def jax_steps(embed_dim: int, n_layers: int) -> CompiledSteps:
  """The production compiled steps for the GPT seed at `embed_dim` x `n_layers`."""
  md = seed_design("gpt2").materialize()
  config = ModelConfig(embed_dim, n_layers, VOCAB)
  schedule = optim.learning_rate_schedule(PEAK_LR, WARMUP, TOTAL)
  tx = optim.adamw(schedule, b1=B1, b2=B2, weight_decay=WEIGHT_DECAY, clip_norm=CLIP)
  return build_steps(lambda: LanguageModel(md, config, rngs=nnx.Rngs(0)), tx, schedule, make_mesh({}),
                     DEFAULT_RULES, BATCH, LENGTH, jnp.float32)


def torch_twin(steps: CompiledSteps) -> TorchGPT:
  """The PyTorch model holding a copy of the JAX model's current weights."""
  model, _ = nnx.merge(steps.graphdef, steps.state)
  blocks = [{"norm1": b.norm1.scale[...], "w_qkv": b.mixer.w_qkv[...], "w_out": b.mixer.w_out[...],
             "norm2": b.norm2.scale[...], "w_gate_up": b.mlp.w_gate_up[...], "w_down": b.mlp.w_down[...]}
            for b in model.blocks]
  mixer = model.blocks[0].mixer
  return TorchGPT(model.embed[...], blocks, model.final_norm[...], mixer.head_dim, mixer.rope_base)


def torch_trainer(model: TorchGPT, inputs_BxL: torch.Tensor, targets_BxL: torch.Tensor) -> Callable[[], torch.Tensor]:
  """One AdamW step with clipping (weight decay on matrices only, as `optim.adamw`); returns the loss."""
  params = list(model.parameters())
  opt = torch.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": WEIGHT_DECAY},
                           {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
                          lr=PEAK_LR / WARMUP, betas=(B1, B2))

  def step() -> torch.Tensor:
    loss = F.cross_entropy(model(inputs_BxL).reshape(-1, VOCAB), targets_BxL.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, CLIP)
    opt.step()
    return loss.detach()
  return step


def _status_kib(field: str) -> int:
  """A field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: peak since the last reset)."""
  line = next(l for l in pathlib.Path("/proc/self/status").read_text().splitlines() if l.startswith(field + ":"))
  return int(line.split()[1])


def _cpu_seconds() -> tuple[float, float]:
  """Busy CPU seconds so far of the whole machine (/proc/stat) and of this process."""
  ticks = [int(v) for v in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
  own = os.times()
  return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"), own.user + own.system


def _timed(run_steps: Callable[[], object], steps: int) -> float:
  """Tokens per second over `steps` steps."""
  start = time.perf_counter()
  run_steps()
  return steps * BATCH * LENGTH / (time.perf_counter() - start)


def _watched(run_round: Callable[[], tuple[float, float]]) -> tuple[tuple[float, float], float]:
  """The round's (JAX, torch) tokens/s, and how many cores other processes kept busy meanwhile."""
  (busy0, own0), start = _cpu_seconds(), time.perf_counter()
  result = run_round()
  (busy1, own1), wall = _cpu_seconds(), time.perf_counter() - start
  return result, (busy1 - busy0 - (own1 - own0)) / wall


def bench_size(embed_dim: int, n_layers: int, rounds: int, steps: int) -> dict[str, float]:
  """Builds both sides at one size, checks they are the same model, and times them in alternating rounds."""
  tokens_BxL1 = np.random.default_rng(0).integers(0, VOCAB, (BATCH, LENGTH + 1), dtype=np.int32)
  batch = {"inputs": tokens_BxL1[:, :-1], "targets": tokens_BxL1[:, 1:],
           "weights": np.ones((BATCH, LENGTH), np.float32), "target_bytes": np.ones((BATCH, LENGTH), np.int32)}
  jx = jax_steps(embed_dim, n_layers)
  jax_params = sum(x.size for x in jax.tree.leaves(nnx.state(nnx.merge(jx.graphdef, jx.state)[0], nnx.Param)))

  pathlib.Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident size
  rss_before_kib = _status_kib("VmRSS")
  tmodel = torch_twin(jx)
  torch_params = sum(p.numel() for p in tmodel.parameters())
  assert torch_params == jax_params, f"parameter counts differ: torch {torch_params:,} vs JAX {jax_params:,}"
  inputs_BxL, targets_BxL = (torch.from_numpy(batch[k]).long() for k in ("inputs", "targets"))
  torch_step = torch_trainer(tmodel, inputs_BxL, targets_BxL)
  start = time.perf_counter()
  torch_loss = float(torch_step())
  torch_first = time.perf_counter() - start
  torch_step()
  torch_peak_kib = _status_kib("VmHWM") - rss_before_kib

  jax_loss = float(jx.train(batch)["loss"])
  assert abs(jax_loss - torch_loss) < 1e-4 * abs(jax_loss), f"first losses differ: JAX {jax_loss} vs torch {torch_loss}"

  def run_jax() -> None:
    for _ in range(steps):
      metrics = jx.train(batch)
    metrics["loss"].block_until_ready()

  def run_torch() -> None:
    for _ in range(steps):
      torch_step()

  def run_round() -> tuple[float, float]:
    """JAX then torch; torch first in odd rounds."""
    if len(jax_tps) % 2:
      torch_round = _timed(run_torch, steps)
      return _timed(run_jax, steps), torch_round
    jax_round = _timed(run_jax, steps)
    return jax_round, _timed(run_torch, steps)

  jax_tps, torch_tps, repeated = [], [], 0
  while len(jax_tps) < rounds:
    (jax_round, torch_round), others = _watched(run_round)
    if others >= 0.1 and repeated < rounds:
      repeated += 1
      continue
    jax_tps.append(jax_round)
    torch_tps.append(torch_round)
  ratios = [j / t for j, t in zip(jax_tps, torch_tps)]
  return {"params": jax_params, "jax_tps": statistics.median(jax_tps), "torch_tps": statistics.median(torch_tps),
          "ratio": statistics.median(ratios), "ratio_lo": min(ratios), "ratio_hi": max(ratios),
          "jax_compile": jx.compile_seconds, "torch_first": torch_first,
          "jax_mem": (jx.memory_bytes or float("nan")) / 2**20, "torch_mem": torch_peak_kib / 2**10,
          "repeated": repeated}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--steps", type=int, default=4)
  parser.add_argument("--sizes", default="64x2,128x4", help="comma-separated embed_dim x n_layers")
  args = parser.parse_args()
  sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
  results = {s: bench_size(*s, args.rounds, args.steps) for s in sizes}
  print(f"GPT seed, batch {BATCH} x {LENGTH} tokens, vocab {VOCAB}, float32, {jax.devices()[0].platform}; "
        f"jax {jax.__version__} vs torch {torch.__version__} eager ({torch.get_num_threads()} threads); "
        f"median of {args.rounds} alternating rounds x {args.steps} steps")
  print(f"{'size':>8s} {'params':>9s} {'JAX tok/s':>10s} {'torch tok/s':>11s} {'JAX/torch':>9s} {'(range)':>11s} "
        f"{'JAX compile s':>13s} {'torch 1st s':>11s} {'JAX MiB':>8s} {'torch MiB':>9s} {'rerun':>5s}")
  for (d, n), r in results.items():
    print(f"{'d%dx%d' % (d, n):>8s} {r['params']:>9,d} {r['jax_tps']:>10,.0f} {r['torch_tps']:>11,.0f} "
          f"{r['ratio']:>8.2f}x {'%.2f-%.2f' % (r['ratio_lo'], r['ratio_hi']):>11s} {r['jax_compile']:>13.2f} "
          f"{r['torch_first']:>11.2f} {r['jax_mem']:>8.1f} {r['torch_mem']:>9.1f} {r['repeated']:>5d}")
  print("JAX compile s: the train and eval steps together (build_steps). JAX MiB: XLA's memory analysis of the "
        "compiled train step (arguments + outputs + temporaries - aliased). torch MiB: peak resident-set growth "
        "(Linux VmHWM, reset before) over building the model and its first two steps. rerun: rounds run again "
        "because other processes used the CPU.")


if __name__ == "__main__":
  main()
