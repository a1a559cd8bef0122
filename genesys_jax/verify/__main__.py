"""Verify one design at one rung of the ladder.

    python -m genesys_jax.verify --design DESIGN_DIR_OR_FILE --scale micro1 --workdir runs/verify \
        [--config configs/default.py] [--config.verify.train.max_steps=20]

Writes results JSON, TensorBoard logs and Orbax checkpoints under the workdir; run the same command
again to resume after a crash or SIGTERM (exit code 143 after a SIGTERM checkpoint). The design's code
runs only in the sandbox (`verify.confined`), which may write only its verification folder.
"""

from __future__ import annotations

import pathlib
import tempfile
from collections.abc import Sequence

import ml_collections
from absl import flags
from ml_collections import config_flags

from genesys_jax import cli
from genesys_jax.distributed import is_multi_host_launch
from genesys_jax.gau.design import load_design
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import SCALES
from genesys_jax.verify import settings

_DESIGN = flags.DEFINE_string("design", None, "A design directory (with design.json) or a block file.")
_SCALE = flags.DEFINE_string("scale", None, f"The rung: one of {', '.join(SCALES)}.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Where results, logs and checkpoints go.")
_CONFIG = config_flags.DEFINE_config_file("config", None, "A config file with a `verify` section.",
                                          lock_config=True)
PREEMPTED_EXIT_CODE = 143


def _verify_section() -> ml_collections.ConfigDict:
  if _CONFIG.value is None and not _CONFIG.present:
    return settings.verify_config()
  config = cli.load_config(_CONFIG)
  if "verify" not in config:
    raise cli.UsageProblem("the config has no `verify` section; add `config.verify = verify_config()`")
  return config.verify


def main(argv: Sequence[str]) -> int:
  del argv
  for holder in (_DESIGN, _SCALE, _WORKDIR):
    if not holder.value:
      raise cli.UsageProblem(f"--{holder.name} is required")
  if _SCALE.value not in SCALES:
    raise cli.UsageProblem(f"unknown scale {_SCALE.value!r}; choose one of {', '.join(SCALES)}")
  c = _verify_section()
  try:
    design = load_design(_DESIGN.value)
  except DesignError as e:
    raise cli.UsageProblem(str(e)) from e
  # Imported once the input is known to be good: the sandbox's side loads JAX and the verification
  # engine, seconds that a mistyped flag should not wait for.
  # pylint: disable=import-outside-toplevel
  from genesys_jax.verify.confined import VerificationFailed, verify_confined
  from genesys_jax.verify.run import run_directory
  from genesys_jax.verify.train import StopFlag, stop_on_sigterm
  # pylint: enable=import-outside-toplevel
  print(f"verifying {design.name} at {_SCALE.value} in {run_directory(_WORKDIR.value, design, _SCALE.value)} "
        "(in the sandbox)", flush=True)
  try:
    with tempfile.TemporaryDirectory(prefix="genesys_verify_") as tmp, stop_on_sigterm(StopFlag()) as stop:
      design_dir = design.save(pathlib.Path(tmp) / design.name)  # a block file becomes a design directory
      result = verify_confined(design, design_dir, _SCALE.value, pathlib.Path(_WORKDIR.value), c,
                               lambda: bool(stop), multi_host=is_multi_host_launch(), progress=True)
  except VerificationFailed as e:
    if e.usage:
      raise cli.UsageProblem(str(e)) from e
    raise
  print(_summary(result), flush=True)
  if result["status"] == "preempted":
    return PREEMPTED_EXIT_CODE
  return 0 if result["status"] == "completed" else 1


def _summary(result: dict) -> str:
  lines = [f"{result['design']} at {result['scale']}: {result['status']}"
           + (f" ({result['message']})" if result.get("message") else "")]
  if "train" in result:
    t = result["train"]
    lines.append(f"  {result['model']['params']:,} params, {t['steps']} steps, "
                 f"{(t['tokens_per_second'] or 0):,.0f} tokens/s, compile {t['compile_seconds']:.1f} s"
                 + (f", {t['accumulation_steps']} micro-batches of {t['micro_batch']} rows a step"
                    if t.get("accumulation_steps", 1) > 1 else ""))
  if "eval" in result:
    v, r = result["eval"]["validation"], result["random_init"]["validation"]
    lines.append(f"  validation: loss {v['loss']:.4f}, bits/byte {v['bits_per_byte']:.4f} "
                 f"(untrained {r['bits_per_byte']:.4f})")
  for name, m in result.get("eval", {}).get("tasks", {}).items():
    lines.append(f"  {name}: acc {m['acc']:.3f}, acc_norm {m['acc_norm']:.3f} (chance {m['chance']:.3f}, n={m['n']})")
  if result.get("diagnostics", {}).get("status") == "error":
    lines.append(f"  rung 0 failed: {result['diagnostics']['message']}")
  for name, m in result.get("diagnostics", {}).get("tasks", {}).items():
    lines.append(f"  {name}: accuracy {m['accuracy']:.3f} (untrained {m['random_init']:.3f}, chance {m['chance']:.3f})")
  if "timings" in result:
    lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result["timings"].items()))
  return "\n".join(lines)


if __name__ == "__main__":
  cli.run(main)
