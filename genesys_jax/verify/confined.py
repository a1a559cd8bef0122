"""Verification in the sandbox: the trusted side starts `verify.job` confined and reads its results.

The child sees the run directory read-only and may write only its own verification folder (and the
shared compilation cache when the design is the library's own code); it gets the verifier's
allow-listed environment (no API keys), no network under bubblewrap, and the accelerators' device
nodes. Stopping (SIGTERM of the verifier, a lost lease) reaches it as a stop file in its folder, so
it checkpoints and returns 'preempted' whatever the sandbox does with signals.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import threading
from collections.abc import Callable

import ml_collections

from genesys_jax.check.compilation_cache import sandbox_cache
from genesys_jax.check.sandbox import Limits, isolation, python_module, run_sandboxed, verifier_env
from genesys_jax.gau.design import Design
from genesys_jax.units.library import is_library_code
from genesys_jax.verify.run import run_directory

TRAINING_LIMITS = Limits(timeout_s=None, memory_bytes=None, cpu_seconds=None, max_processes=None,
                         max_file_bytes=None, disk_bytes=None)
"""Training runs as long and as large as its rung needs; the sandbox confines what it may touch."""


class VerificationFailed(RuntimeError):
  """The confined verification raised or died; the message says how, `usage` whether bad input did it."""

  def __init__(self, message: str, trace: str = "", usage: bool = False):
    super().__init__(message)
    self.trace, self.usage = trace, usage


def verify_confined(design: Design, design_dir: pathlib.Path, rung: str, verify_root: pathlib.Path,
                    c: ml_collections.ConfigDict, stop: Callable[[], bool],
                    visible: pathlib.Path | None = None, multi_host: bool = False, progress: bool = False) -> dict:
  """`verify.run.verify` of `design` (saved at `design_dir`) in the sandbox; returns its results.

  `stop()` is polled; when it turns true the child checkpoints and returns 'preempted'. `visible` is a
  directory the child may read (the run directory; default: the design's parent). `multi_host`: the
  child joins the other hosts (`jax.distributed`), so it keeps the network; `progress`: it prints a line
  per logged step. Raises VerificationFailed (`usage` set for bad settings or data) when the child
  raised or died.
  """
  out = run_directory(verify_root, design, rung)
  out.mkdir(parents=True, exist_ok=True)
  # this process's own files: the hosts of a slice share the run directory, each with its own sandbox
  me = f"{socket.gethostname()}-{os.getpid()}"
  stop_file, request_file = out / f"STOP.{me}", out / f"job_request.{me}.json"
  stop_file.unlink(missing_ok=True)
  mode = isolation()
  cache = sandbox_cache(is_library_code(design.files), mode == "bubblewrap", out / "xla_cache")  # kept: resumes
  request_file.write_text(json.dumps({
      "design": str(design_dir.resolve()), "rung": rung, "verify_root": str(verify_root.resolve()),
      "settings": c.to_dict(), "compilation_cache": cache.path, "cache_read_only": cache.read_only,
      "stop_file": str(stop_file.resolve()), "multi_host": multi_host, "progress": progress}))
  readable = [str((visible or design_dir.parent).resolve())] + _config_paths(c)
  done = threading.Event()

  def watch() -> None:
    while not done.wait(0.5):
      if stop():
        stop_file.touch()
        return

  watcher = threading.Thread(target=watch, daemon=True)
  watcher.start()
  try:
    result = run_sandboxed(python_module("genesys_jax.verify.job", str(request_file.resolve())),
                           str(out), TRAINING_LIMITS, mode=mode, writable=(str(out), *cache.writable),
                           readonly=(*readable, *cache.readonly), result_fd=True,
                           env={**verifier_env(), "HOME": os.path.expanduser("~")}, network=multi_host,
                           echo=progress)
  finally:
    done.set()
    watcher.join()
    stop_file.unlink(missing_ok=True)
    request_file.unlink(missing_ok=True)
  lines = [l for l in result.results.splitlines() if l.strip()]
  try:
    message = json.loads(lines[-1]) if lines and not result.results_truncated else None
  except (ValueError, RecursionError):
    message = None
  if isinstance(message, dict) and isinstance(message.get("results"), dict):
    return message["results"]
  if isinstance(message, dict) and isinstance(message.get("error"), str):
    raise VerificationFailed(message["error"], message.get("traceback", ""), bool(message.get("usage")))
  tail = " | ".join(l for l in result.stderr.strip().splitlines()[-3:])[-600:]
  raise VerificationFailed(f"the verification process died (exit {result.returncode}"
                           f"{', ' + result.limit_hit if result.limit_hit else ''}): {tail or 'no error output'}")


def _config_paths(c: ml_collections.ConfigDict) -> list[str]:
  """Files and folders the verify settings name (tokenizer model, task files, TFDS data), to be readable."""
  named = [c.data.get("tokenizer_model"), c.data.get("tfds_data_dir"), c.eval.get("tfds_data_dir"),
           *c.eval.get("task_files", ())]
  return sorted({str(pathlib.Path(p).resolve()) for p in named if p and os.path.exists(p)})
