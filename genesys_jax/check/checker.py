"""The checker: static vetting here, then two sandboxed processes; one report.

The worker (`check.worker`) imports the unit code and exports its programs; the prober (`check.prober`),
a fresh interpreter that never imports it, derives the checks from those programs. Of the worker's
messages only failures count (and the passes of `load` and `unit_tests`).

`check(path)` is the library call used by the agents and the evolution loop; the CLI wraps it.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import tempfile
import threading
import time
from collections.abc import Collection

from genesys_jax.check import vet
from genesys_jax.check.channel import messages
from genesys_jax.check.compilation_cache import sandbox_cache
from genesys_jax.check.dynamic import CheckSettings
from genesys_jax.check.report import Check, CheckReport
from genesys_jax.check.sandbox import Limits, SandboxResult, isolation, python_module, run_sandboxed
from genesys_jax.check.unit_stages import WORKER_CHECKS
from genesys_jax.gau.design import Design, load_design
from genesys_jax.gau.errors import DesignError
from genesys_jax.units.library import is_library_code

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
    inputs, handover = pathlib.Path(tmp) / "inputs", pathlib.Path(tmp) / "handover"
    handover.mkdir()
    if design is not None:
      design.save(inputs / "design")
      target = inputs / "design"
    else:
      inputs.mkdir()
      (inputs / block_file).write_text(files[block_file])
      target = inputs / block_file
    bundle, ready = handover / "bundle.npz", handover / "ready"
    probing: list[SandboxResult] = []
    prober = threading.Thread(target=lambda: probing.append(_run_stage_process(
        "genesys_jax.check.prober", handover, {"bundle": str(bundle), "ready": str(ready)}, settings,
        dataclasses.replace(limits, timeout_s=limits.timeout_s and 2 * limits.timeout_s), mode, library,
        pathlib.Path(tmp) / "prober")), daemon=True)
    began = time.perf_counter()
    prober.start()  # it compiles the GPT reference while the worker runs the unit
    worker = _run_stage_process("genesys_jax.check.worker", inputs, {"design": str(target)}, settings, limits,
                                mode, library, pathlib.Path(tmp) / "worker", data_path=str(bundle))
    checks, stages, failure = _read(worker, allowed=WORKER_CHECKS)
    checks = [c for c in checks if not c.ok or c.name in ("load", "unit_tests")]  # its passes prove nothing
    go = failure is None and all(c.ok or not c.fatal for c in checks)
    (handover / "ready.tmp").write_text("go" if go else "stop")
    (handover / "ready.tmp").rename(ready)
    prober.join()
    layers, total = worker.layers, time.perf_counter() - began
    if go:
      derived, prober_stages, failure = _read(probing[0], allowed=None)
      checks = checks + derived
      stages += [(name, t) for name, t in prober_stages if name not in ("reference", "waiting")]
      if failure is None and checks[-1].ok and checks[-1].name != "fingerprint":
        failure = Check("protocol", False, f"the checks ended after {checks[-1].name} without a verdict")
  checks = [vetting, *checks] + ([failure] if failure else [])
  figures = {k: v for c in checks for k, v in c.figures.items()}
  for (stage_name, t0), (_, t1) in zip(stages, stages[1:]):
    if stage_name != "done":  # each process's stages are timed by its own clock
      seconds[stage_name] = round(seconds.get(stage_name, 0.0) + t1 - t0, 3)
  seconds["sandbox_total"] = round(total, 2)
  return CheckReport(name, tuple(checks), figures, layers, seconds)


def _run_stage_process(module: str, inputs: pathlib.Path, request: dict, settings: CheckSettings, limits: Limits,
                       mode: str, library: bool, workdir: pathlib.Path, data_path: str | None = None
                       ) -> SandboxResult:
  """Runs one of the checker's sandboxed processes on `request` (written into `inputs`, which it may read)."""
  workdir.mkdir()
  cache = sandbox_cache(library, mode == "bubblewrap", workdir / "xla_cache")  # private: discarded with it
  path = inputs / f"{module.rsplit('.', 1)[-1]}_request.json"
  path.write_text(json.dumps({**request, "settings": dataclasses.asdict(settings), "compilation_cache": cache.path,
                              "cache_read_only": cache.read_only}))
  return run_sandboxed(python_module(module, str(path)), str(workdir), limits, mode=mode, writable=cache.writable,
                       readonly=(str(inputs), *cache.readonly), result_fd=True, data_path=data_path)


def _read(result: SandboxResult, allowed: Collection[str] | None
          ) -> tuple[list[Check], list[tuple[str, float]], Check | None]:
  """The checks (those named in `allowed`, all if None) and stages a process reported, and how the
  process itself failed (None if it finished cleanly)."""
  checks, stages, finished = [], [], False
  for msg in messages(result.results):
    if "stage" in msg:
      stages.append((msg["stage"], msg["t"]))
    elif "check" in msg and (allowed is None or msg["check"].name in allowed):
      checks.append(msg["check"])
    elif "done" in msg:
      finished = True
  if result.results_truncated or result.data_truncated:
    return checks, stages, Check("protocol", False, "the check process sent more results or programs than "
                                 "the checker reads; this is not a unit's doing")
  if not finished:
    stage = stages[-1][0] if stages else "startup"
    reason = (f"exceeded the {result.limit_hit}" if result.limit_hit else
              f"the check process died (exit {result.returncode}): {_tail(result.stderr)}")
    return checks, stages, Check(stage, False, f"{reason} during the {stage} stage; make the unit cheaper or fix it")
  if result.returncode != 0:
    return checks, stages, Check("exit", False, f"the check process exited with code {result.returncode} after "
                                 "the checks; a unit must not end the process")
  return checks, stages, None


def _tail(stderr: str, lines: int = 3) -> str:
  kept = [l for l in stderr.strip().splitlines() if l.strip()][-lines:]
  return " | ".join(kept)[-600:] or "no error output"
