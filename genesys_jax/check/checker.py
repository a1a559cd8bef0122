"""The checker: static vetting here, everything that runs the code in the sandbox; one report.

`check(path)` is the library call used by the agents and the evolution loop; the CLI wraps it.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import tempfile
import time

from genesys_jax.check import vet
from genesys_jax.check.compilation_cache import compilation_cache_dir
from genesys_jax.check.dynamic import CheckSettings
from genesys_jax.check.report import Check, CheckReport
from genesys_jax.check.sandbox import Limits, run_sandboxed
from genesys_jax.gau.design import Design, load_design
from genesys_jax.gau.errors import DesignError


def check(path: str | pathlib.Path, settings: CheckSettings = CheckSettings(),
          limits: Limits = Limits()) -> CheckReport:
  """Checks the design directory or block file at `path` (which must exist)."""
  path = pathlib.Path(path)
  start = time.perf_counter()
  if path.is_dir():
    try:
      design = load_design(path)  # reads text only: no unit code runs here
    except DesignError as e:
      return CheckReport(path.name, (Check("load", False, str(e)),), {}, (), {})
    return check_design(design, settings, limits)
  try:
    files = {path.name: path.read_text()}
  except UnicodeDecodeError as e:
    return CheckReport(path.stem, (Check("load", False, f"{path.name} is not UTF-8 text: {e}"),), {}, (), {})
  return _check_files(path.stem, files, path.name, settings, limits, start)


def check_design(design: Design, settings: CheckSettings = CheckSettings(),
                 limits: Limits = Limits()) -> CheckReport:
  """Checks an in-memory design (e.g. one an agent just wrote)."""
  return _check_files(design.name, dict(design.files), None, settings, limits, time.perf_counter(),
                      design=design)


def _check_files(name: str, files: dict[str, str], block_file: str | None, settings: CheckSettings,
                 limits: Limits, start: float, design: Design | None = None) -> CheckReport:
  findings = [f for fname, src in files.items() for f in vet.vet_source(src, fname)]
  if design is not None:  # only the design's root file needs a unit; helpers may live in other files
    findings = [f for f in findings if not f.message.startswith("no unit found")]
  vetting = Check("static_vetting", not findings, "; ".join(str(f) for f in findings[:10]))
  seconds = {"static_vetting": round(time.perf_counter() - start, 3)}
  if findings:
    return CheckReport(name, (vetting,), {}, (), seconds)
  with tempfile.TemporaryDirectory(prefix="genesys_check_") as tmp:
    workdir = pathlib.Path(tmp)
    if design is not None:
      design.save(workdir / "design")
      target = "design"
    else:
      (workdir / block_file).write_text(files[block_file])
      target = block_file
    cache = str(compilation_cache_dir())
    (workdir / "request.json").write_text(json.dumps(
        {"design": target, "settings": dataclasses.asdict(settings), "compilation_cache": cache}))
    result = run_sandboxed([sys.executable, "-m", "genesys_jax.check.worker", "request.json"], str(workdir),
                           limits, writable=[cache])
  checks, stages, finished = [vetting], [], False
  for line in result.stdout.splitlines():
    try:
      msg = json.loads(line)
    except json.JSONDecodeError:
      continue  # unit code may print; only our JSON lines count
    if not isinstance(msg, dict):
      continue
    if "stage" in msg:
      stages.append((msg["stage"], float(msg.get("t", 0.0))))
    elif "check" in msg:
      c = msg["check"]
      checks.append(Check(c["name"], c["ok"], c["message"], c["severity"] == "error", c.get("figures", {})))
    elif msg.get("done"):
      finished = True
  if not finished:
    stage = stages[-1][0] if stages else "startup"
    reason = (f"exceeded the {result.limit_hit}" if result.limit_hit else
              f"the check process died (exit {result.returncode}): {_tail(result.stderr)}")
    checks.append(Check(stage, False, f"{reason} during the {stage} stage; make the unit cheaper or fix it"))
  figures = {k: v for c in checks for k, v in c.figures.items()}
  for (stage_name, t0), (_, t1) in zip(stages, stages[1:]):
    seconds[stage_name] = round(seconds.get(stage_name, 0.0) + t1 - t0, 3)
  seconds["sandbox_total"] = round(result.seconds, 2)
  return CheckReport(name, tuple(checks), figures, result.layers, seconds)


def _tail(stderr: str, lines: int = 3) -> str:
  kept = [l for l in stderr.strip().splitlines() if l.strip()][-lines:]
  return " | ".join(kept)[-600:] or "no error output"
