"""The checker: static vetting here, everything that runs the code in the sandbox; one report.

`check(path)` is the library call used by the agents and the evolution loop; the CLI wraps it.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import tempfile
import time
from collections.abc import Iterator

from genesys_jax.check import vet
from genesys_jax.check.compilation_cache import sandbox_cache
from genesys_jax.check.dynamic import CheckSettings
from genesys_jax.check.report import Check, CheckReport
from genesys_jax.check.sandbox import RESULT_CAP_BYTES, Limits, isolation, python_module, run_sandboxed
from genesys_jax.gau.design import Design, load_design
from genesys_jax.gau.errors import DesignError
from genesys_jax.units.library import is_library_code

MESSAGE_CAP_BYTES = 256 * 2**10
UNISOLATED = ("bubblewrap is not available on this machine, so agent-written code would run without "
              "namespace isolation; install it (`apt-get install bubblewrap`) or accept the risk with "
              "--config.check.allow_unisolated=True")


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
  library = is_library_code(files)
  mode = isolation()
  if not library and mode != "bubblewrap" and not limits.unisolated_allowed:
    return CheckReport(name, (vetting, Check("isolation", False, UNISOLATED)), {}, (), seconds)
  with tempfile.TemporaryDirectory(prefix="genesys_check_") as tmp:
    inputs, workdir = pathlib.Path(tmp) / "inputs", pathlib.Path(tmp) / "work"
    workdir.mkdir()
    if design is not None:
      design.save(inputs / "design")
      target = inputs / "design"
    else:
      inputs.mkdir()
      (inputs / block_file).write_text(files[block_file])
      target = inputs / block_file
    cache = sandbox_cache(library, mode == "bubblewrap", workdir / "xla_cache")  # private: discarded with it
    (inputs / "request.json").write_text(json.dumps(
        {"design": str(target), "settings": dataclasses.asdict(settings), "compilation_cache": cache.path,
         "cache_read_only": cache.read_only}))
    result = run_sandboxed(python_module("genesys_jax.check.worker", str(inputs / "request.json")), str(workdir),
                           limits, mode=mode, writable=cache.writable, readonly=(str(inputs), *cache.readonly),
                           result_fd=True)
  checks, stages, finished = [vetting], [], False
  for msg in _messages(result.results):
    if "stage" in msg:
      stages.append((msg["stage"], msg["t"]))
    elif "check" in msg:
      checks.append(msg["check"])
    elif "done" in msg:
      finished = True
  if result.results_truncated:
    checks.append(Check("protocol", False, "the check process sent more than "
                        f"{RESULT_CAP_BYTES // 2**20} MiB of results; this is not a unit's doing"))
  elif not finished:
    stage = stages[-1][0] if stages else "startup"
    reason = (f"exceeded the {result.limit_hit}" if result.limit_hit else
              f"the check process died (exit {result.returncode}): {_tail(result.stderr)}")
    checks.append(Check(stage, False, f"{reason} during the {stage} stage; make the unit cheaper or fix it"))
  elif result.returncode != 0:
    checks.append(Check("exit", False, f"the check process exited with code {result.returncode} after the "
                        "checks; a unit must not end the process"))
  elif checks[-1].ok and checks[-1].name != "fingerprint":
    checks.append(Check("protocol", False, f"the checks ended after {checks[-1].name} without a verdict"))
  figures = {k: v for c in checks for k, v in c.figures.items()}
  for (stage_name, t0), (_, t1) in zip(stages, stages[1:]):
    seconds[stage_name] = round(seconds.get(stage_name, 0.0) + t1 - t0, 3)
  seconds["sandbox_total"] = round(result.seconds, 2)
  return CheckReport(name, tuple(checks), figures, result.layers, seconds)


def _messages(data: bytes) -> Iterator[dict]:
  """The well-formed messages of the worker's result channel (each line capped and schema-checked)."""
  for line in data.split(b"\n"):
    if not line or len(line) > MESSAGE_CAP_BYTES:
      continue
    try:
      msg = json.loads(line)
    except (ValueError, RecursionError):
      continue
    if not isinstance(msg, dict):
      continue
    if isinstance(msg.get("stage"), str) and isinstance(msg.get("t"), (int, float)):
      yield {"stage": msg["stage"], "t": float(msg["t"])}
    elif msg.get("done") is True:
      yield {"done": True}
    elif isinstance(c := msg.get("check"), dict) and isinstance(c.get("name"), str) and isinstance(
        c.get("ok"), bool) and isinstance(c.get("message"), str) and c.get("severity") in ("error", "warning"):
      figures = c.get("figures", {})
      yield {"check": Check(c["name"], c["ok"], c["message"], c["severity"] == "error",
                            figures if isinstance(figures, dict) else {})}


def _tail(stderr: str, lines: int = 3) -> str:
  kept = [l for l in stderr.strip().splitlines() if l.strip()][-lines:]
  return " | ".join(kept)[-600:] or "no error output"
