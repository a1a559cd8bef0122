"""Run a command in a separate, confined process: the only place agent-written code executes.

Layers, each reported when active: a scrubbed environment (no API keys or tokens), a private working
directory, resource limits (address space, CPU time, processes, file size, no core dumps), a wall-clock
timeout that kills the whole process group, and, where `bwrap` (bubblewrap) works on this machine, new
namespaces with no network, a private /tmp, a read-only root and its own process tree.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

PASSED_ENV = ("PATH", "LANG", "LC_ALL", "JAX_PLATFORMS", "XLA_FLAGS", "TF_CPP_MIN_LOG_LEVEL")
"""The only environment variables a sandboxed process sees (plus HOME, TMPDIR, PYTHONPATH we set)."""

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclasses.dataclass(frozen=True)
class Limits:
  """Resource limits of one sandboxed run."""

  timeout_s: float = 120.0
  memory_bytes: int = 16 * 2**30   # address space; XLA reserves more than it touches
  cpu_seconds: int = 600
  max_processes: int = 4096        # threads count too (ignored for root)
  max_file_bytes: int = 64 * 2**20


@dataclasses.dataclass(frozen=True)
class SandboxResult:
  """What a sandboxed run did and which limit, if any, stopped it."""

  returncode: int
  stdout: str
  stderr: str
  seconds: float
  layers: tuple[str, ...]
  limit_hit: str | None


@functools.cache
def bubblewrap_works() -> bool:
  """Whether `bwrap` exists and can create the namespaces we ask for on this machine."""
  if shutil.which("bwrap") is None:
    return False
  try:
    probe = subprocess.run(["bwrap", *_bwrap_args("/"), "true"], capture_output=True, timeout=10)
  except (OSError, subprocess.TimeoutExpired):
    return False
  return probe.returncode == 0


def _bwrap_args(workdir: str, writable: Sequence[str] = ()) -> list[str]:
  args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
  for path in _needed_under_tmp():  # the interpreter and the project must stay visible, read-only
    args += ["--ro-bind", path, path]
  for path in writable:
    args += ["--bind", path, path]
  if workdir != "/":
    args += ["--bind", workdir, workdir, "--chdir", workdir]
  return args + ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                 "--die-with-parent", "--new-session", "--"]


def _needed_under_tmp() -> list[str]:
  """The interpreter's prefixes and the project, where they live under /tmp (hidden by the private /tmp)."""
  paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, PROJECT_ROOT)}
  return sorted(p for p in paths if p == "/tmp" or p.startswith("/tmp/"))


def _with_limits(cmd: list[str], limits: Limits) -> list[str]:
  """`cmd` run through `rlimit_exec`, which sets the resource limits and then execs it."""
  return [sys.executable, "-m", "genesys_jax.check.rlimit_exec", str(limits.memory_bytes), str(limits.cpu_seconds),
          str(limits.max_processes), str(limits.max_file_bytes), "--", *cmd]


def scrubbed_env(workdir: str) -> dict[str, str]:
  """The environment of a sandboxed process: a few harmless variables, no secrets."""
  env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
  env.update(HOME=workdir, TMPDIR=workdir, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1",
             PYTHONPATH=PROJECT_ROOT)  # so the sandboxed interpreter finds genesys_jax
  return env


def run_sandboxed(argv: Sequence[str], workdir: str, limits: Limits = Limits(), use_bubblewrap: bool = True,
                  writable: Sequence[str] = ()) -> SandboxResult:
  """Runs `argv` confined to `workdir` under `limits`; never raises for what the child does.

  `writable` directories stay writable under bubblewrap (e.g. the compilation cache).
  """
  workdir = os.path.realpath(workdir)
  writable = [os.path.realpath(w) for w in writable]
  layers = ["scrubbed-env", "private-workdir", "rlimits", "timeout-kills-process-group"]
  cmd = _with_limits(list(argv), limits)
  if use_bubblewrap and bubblewrap_works():
    cmd = ["bwrap", *_bwrap_args(workdir, writable), *cmd]
    layers.append("bubblewrap(no-network,private-tmp,read-only-root,pid-namespace)")
  start = time.perf_counter()
  proc = subprocess.Popen(cmd, cwd=workdir, env=scrubbed_env(workdir), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
  timed_out = False
  try:
    stdout, stderr = proc.communicate(timeout=limits.timeout_s)
  except subprocess.TimeoutExpired:
    timed_out = True
    _kill_group(proc.pid)
    stdout, stderr = proc.communicate()
  _kill_group(proc.pid)  # anything the child left behind in its group
  seconds = time.perf_counter() - start
  return SandboxResult(proc.returncode, stdout, stderr, seconds, tuple(layers),
                       _limit_hit(proc.returncode, stderr, timed_out, limits))


def _kill_group(pgid: int) -> None:
  try:
    os.killpg(pgid, signal.SIGKILL)
  except (ProcessLookupError, PermissionError):
    pass


def _limit_hit(returncode: int, stderr: str, timed_out: bool, limits: Limits) -> str | None:
  if timed_out:
    return f"wall-clock timeout of {limits.timeout_s:g} s"
  if returncode in (-signal.SIGXCPU, -signal.SIGKILL) and "MemoryError" not in stderr:
    return f"CPU time limit of {limits.cpu_seconds} s" if returncode == -signal.SIGXCPU else "killed (SIGKILL)"
  if returncode == -signal.SIGXFSZ or "File too large" in stderr:
    return f"file size limit of {limits.max_file_bytes // 2**20} MiB"
  memory_signs = ("MemoryError", "std::bad_alloc", "RESOURCE_EXHAUSTED", "Cannot allocate memory",
                  "Out of memory", "out of memory")
  if any(s in stderr for s in memory_signs):
    return f"memory limit of {limits.memory_bytes / 2**30:g} GiB"
  if "Resource temporarily unavailable" in stderr or "can't start new thread" in stderr:
    return f"process limit of {limits.max_processes}"
  return None
