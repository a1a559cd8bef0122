"""Run a command in a separate, confined process: the only place agent-written code executes.

Layers, each reported when active: an allow-listed environment (no API keys or tokens), a private working
directory, an isolated interpreter (`python -I`: no working directory or PYTHON* variables on its path, so
a unit file named like a stdlib module shadows nothing), resource limits and a subreaper that kills every
process the command leaves behind (`supervisor`), a wall-clock timeout, and namespace isolation: with
`bwrap` (bubblewrap) new namespaces with no network, a private /tmp, a read-only root and its own process
tree; without it, as root, new network, PID, IPC and UTS namespaces and a /proc of their own (the file
system stays writable there, so only bubblewrap counts as isolated).
Results travel on their own pipe (`result_fd`), which the child's standard output cannot reach; every
stream is read with a cap, so a flood of output costs no memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

PASSED_ENV = ("PATH", "LANG", "LC_ALL", "JAX_PLATFORMS", "XLA_FLAGS", "TF_CPP_MIN_LOG_LEVEL",
              "CUDA_VISIBLE_DEVICES", "TPU_VISIBLE_CHIPS", "JAX_ENABLE_X64")
"""The only environment variables a sandboxed process sees (plus HOME, TMPDIR and the ones we set)."""

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUPERVISOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "supervisor.py")
ACCELERATOR_DEVICES = ("/dev/nvidia*", "/dev/accel*", "/dev/vfio")
"""Device nodes bound into a bubblewrap sandbox when present (GPUs, TPUs)."""
STORE_SOCKET_DIRS = ("/run/postgresql", "/var/run/postgresql")
"""Where a local PostgreSQL server's sockets are: empty inside a bubblewrap sandbox, so that sandboxed code
cannot reach the run's store (the network it would need otherwise is gone)."""
ALLOW_UNISOLATED_ENV = "GENESYS_JAX_ALLOW_UNISOLATED"
RESULT_CAP_BYTES = 4 * 2**20
DATA_CAP_BYTES = 2 * 2**30
LOG_CAP_BYTES = 64 * 2**10
_BOOT = ("import runpy, sys; sys.path.append(sys.argv[1]); module = sys.argv[2]; sys.argv = sys.argv[2:]; "
         "runpy.run_module(module, run_name='__main__', alter_sys=True)")


@dataclasses.dataclass(frozen=True)
class Limits:
  """Resource limits of one sandboxed run."""

  timeout_s: float | None = 300.0         # None: no wall-clock limit (training); checks share the
                                          # cores with training verifiers, and cpu_seconds caps spinning
  memory_bytes: int | None = 16 * 2**30   # address space; XLA reserves more than it touches
  cpu_seconds: int | None = 600
  max_processes: int | None = 4096        # threads count too (ignored for root)
  max_file_bytes: int | None = 64 * 2**20
  disk_bytes: int | None = 256 * 2**20    # all files together (bubblewrap: the workdir is then a
                                          # private tmpfs of this size, its contents discarded)
  allow_unisolated: bool = False   # run agent-written code even where bubblewrap is missing

  @property
  def unisolated_allowed(self) -> bool:
    """`allow_unisolated`, or the same choice made for every process by GENESYS_JAX_ALLOW_UNISOLATED=1."""
    return self.allow_unisolated or os.environ.get(ALLOW_UNISOLATED_ENV) == "1"


@dataclasses.dataclass(frozen=True)
class SandboxResult:
  """What a sandboxed run did and which limit, if any, stopped it; `results` is what came on result_fd."""

  returncode: int
  stdout: str
  stderr: str
  seconds: float
  layers: tuple[str, ...]
  limit_hit: str | None
  results: bytes = b""
  results_truncated: bool = False
  data_truncated: bool = False  # the data channel sent more than DATA_CAP_BYTES (or never closed)


def child_arguments() -> argparse.Namespace:
  """`request`, `result_fd` and `data_fd` (None without one) of a sandboxed entry point run as
  `python -m M REQUEST --result_fd N [--data_fd M]`."""
  parser = argparse.ArgumentParser()
  parser.add_argument("request")
  parser.add_argument("--result_fd", type=int, required=True)
  parser.add_argument("--data_fd", type=int, default=None)
  return parser.parse_args()


def python_module(module: str, *args: str) -> list[str]:
  """Command running `python -m module args` in an isolated interpreter that finds this project last."""
  return [sys.executable, "-I", "-c", _BOOT, PROJECT_ROOT, module, *args]


@functools.cache
def bubblewrap_works() -> bool:
  """Whether `bwrap` exists and can create the namespaces we ask for on this machine."""
  if shutil.which("bwrap") is None:
    return False
  try:
    probe = subprocess.run(["bwrap", *_bwrap_args("/"), "true"], capture_output=True, timeout=10,
                           env=verifier_env())  # like every process the sandbox starts: no secret
  except (OSError, subprocess.TimeoutExpired):
    return False
  return probe.returncode == 0


def isolation() -> str:
  """'bubblewrap', 'namespaces' (root without bubblewrap: no network, own PID tree and /proc, but a writable
  file system) or 'none': the namespace isolation this machine offers."""
  if bubblewrap_works():
    return "bubblewrap"
  if os.geteuid() == 0:
    return "namespaces"
  return "none"


def _bwrap_args(workdir: str, writable: Sequence[str] = (), readonly: Sequence[str] = (),
                network: bool = False, disk_bytes: int | None = None) -> list[str]:
  args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", *_store_out_of_reach()]
  for pattern in ACCELERATOR_DEVICES:
    for path in glob.glob(pattern):
      args += ["--dev-bind", path, path]
  for path in _needed_under_tmp():  # the interpreter and the project must stay visible, read-only
    args += ["--ro-bind", path, path]
  for path in readonly:
    args += ["--ro-bind", path, path]
  for path in writable:
    args += ["--bind", path, path]
  if workdir != "/" and disk_bytes is not None:  # a fresh tmpfs of that size: the whole run's disk quota
    args += ["--size", str(disk_bytes), "--tmpfs", workdir, "--chdir", workdir]
  elif workdir != "/":
    args += ["--bind", workdir, workdir, "--chdir", workdir]
  return args + ([] if network else ["--unshare-net"]) + ["--unshare-pid", "--unshare-ipc", "--unshare-uts",
                                                          "--die-with-parent", "--new-session", "--"]


def _store_out_of_reach() -> list[str]:
  """bubblewrap arguments that hide the evolution store's ways in: a local PostgreSQL server's socket
  directories and libpq's client keys (an empty tmpfs over each), its password and service files
  (/dev/null without device access over them: opening them fails)."""
  args = []
  for path in sorted({os.path.realpath(p) for p in STORE_SOCKET_DIRS if os.path.isdir(p)}):
    args += ["--tmpfs", path]
  for name, default in (("PGPASSFILE", "~/.pgpass"), ("PGSERVICEFILE", "~/.pg_service.conf")):
    path = os.path.realpath(os.environ.get(name) or os.path.expanduser(default))
    if os.path.isfile(path):
      args += ["--ro-bind", "/dev/null", path]
  certificates = os.path.realpath(os.path.expanduser("~/.postgresql"))  # libpq's client keys
  if os.path.isdir(certificates):
    args += ["--tmpfs", certificates]
  return args


def _needed_under_tmp() -> list[str]:
  """The interpreter's prefixes and the project, where they live under /tmp (hidden by the private /tmp)."""
  paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, PROJECT_ROOT)}
  return sorted(p for p in paths if p == "/tmp" or p.startswith("/tmp/"))


TRUSTED_ENV_PREFIXES = ("GENESYS_JAX_", "JAX_", "XLA_", "TPU_", "MEGASCALE_", "CUDA_", "NCCL_", "NVIDIA_",
                        "TF_CPP_", "TFDS_", "LD_LIBRARY_PATH", "HOME", "USER")
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "AUTH")


def verifier_env(extra: dict[str, str] | None = None) -> dict[str, str]:
  """The environment of a process that trains agent-written designs: `PASSED_ENV`, the project's, JAX's
  and the accelerators' variables, never one whose name marks a secret (API keys, tokens, passwords)."""
  env = {k: v for k, v in os.environ.items()
         if (k in PASSED_ENV or k.startswith(TRUSTED_ENV_PREFIXES))
         and not any(m in k.upper() for m in SECRET_MARKERS)}
  env.update(PYTHONUNBUFFERED="1", **(extra or {}))
  return env


def describe_isolation() -> str:
  """One line on how agent-written code is confined on this machine, for a run's status."""
  mode = isolation()
  if mode == "bubblewrap":
    return ("sandbox: bubblewrap (no network, private /tmp, read-only root, own PID tree), allow-listed "
            "environment, isolated interpreter, rlimits, subreaper")
  missing = "bubblewrap is missing (install it: apt-get install bubblewrap); "
  if mode == "namespaces":
    return (f"sandbox: {missing}running as root: network, PID, IPC and UTS namespaces, own /proc, allow-listed "
            "environment, isolated interpreter, rlimits, subreaper; the file system stays writable")
  return (f"sandbox: {missing}allow-listed environment, isolated interpreter, rlimits and a subreaper only; "
          "no namespace isolation")


def scrubbed_env(workdir: str, extra: dict[str, str] | None = None) -> dict[str, str]:
  """The environment of a sandboxed process: a few harmless variables, no secrets."""
  env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
  env.update(HOME=workdir, TMPDIR=workdir, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
  env.update(extra or {})
  return env


def run_sandboxed(argv: Sequence[str], workdir: str, limits: Limits = Limits(), mode: str | None = None,
                  writable: Sequence[str] = (), readonly: Sequence[str] = (), result_fd: bool = False,
                  env: dict[str, str] | None = None, network: bool = False, echo: bool = False,
                  data_path: str | None = None) -> SandboxResult:
  """Runs `argv` confined to `workdir` under `limits`; never raises for what the child does.

  `mode` is the namespace isolation (`isolation()` when None; 'none' forces the layers below it only).
  `writable` directories stay writable and `readonly` ones visible read-only (bubblewrap only). With
  `result_fd`, the child's argv gets `--result_fd N` appended: the write end of a pipe whose contents
  come back as `results`. With `data_path`, it also gets `--data_fd M`: a pipe whose contents this side
  writes to `data_path` (up to `DATA_CAP_BYTES`; `data_truncated` if it sent more), so the child hands
  over files without any host directory being writable to it.
  `network` keeps the host's network (a multi-host job's coordinator); `echo` copies the child's output
  to ours as it comes (a long training's progress).
  """
  workdir = os.path.realpath(workdir)
  layers = ["scrubbed-env", "private-workdir", "isolated-interpreter", "rlimits", "subreaper-tree-kill",
            "timeout"]
  rlimits = {"address_space": limits.memory_bytes, "cpu_seconds": limits.cpu_seconds,
             "max_processes": limits.max_processes, "max_file_bytes": limits.max_file_bytes}
  spec: dict = {"rlimits": {k: v for k, v in rlimits.items() if v is not None}}
  read_end = write_end = None
  argv = list(argv)
  if result_fd:
    read_end, write_end = os.pipe()
    spec["pass_fds"] = [write_end]
    argv += ["--result_fd", str(write_end)]
  data_read = data_write = None
  if data_path is not None:
    data_read, data_write = os.pipe()
    spec.setdefault("pass_fds", []).append(data_write)
    argv += ["--data_fd", str(data_write)]
  mode = mode or isolation()
  if mode == "namespaces":
    spec.update(namespaces=True, network=network)
    layers.append(f"namespaces({'' if network else 'no-network,'}pid,private-proc,ipc,uts)")
  cmd = [sys.executable, "-I", SUPERVISOR, json.dumps(spec), "--", *argv]
  if mode == "bubblewrap":
    cmd = ["bwrap", *_bwrap_args(workdir, [os.path.realpath(w) for w in writable],
                                 [os.path.realpath(r) for r in readonly], network, limits.disk_bytes), *cmd]
    quota = f",disk-quota-{limits.disk_bytes // 2**20}MiB" if limits.disk_bytes is not None else ""
    layers.append(f"bubblewrap({'' if network else 'no-network,'}private-tmp,read-only-root,pid-namespace{quota})")
  start = time.perf_counter()
  proc = subprocess.Popen(cmd, cwd=workdir, env=scrubbed_env(workdir, env), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                          pass_fds=[fd for fd in (write_end, data_write) if fd is not None])
  for fd in (write_end, data_write):
    if fd is not None:
      os.close(fd)
  readers = [_CappedReader(proc.stdout, LOG_CAP_BYTES, echo=sys.stdout if echo else None),
             _CappedReader(proc.stderr, LOG_CAP_BYTES, echo=sys.stderr if echo else None)]
  if read_end is not None:
    readers.append(_CappedReader(os.fdopen(read_end, "rb"), RESULT_CAP_BYTES, keep="head"))
  sink = _FileSink(os.fdopen(data_read, "rb"), data_path) if data_path is not None else None
  timed_out = False
  try:
    proc.wait(timeout=limits.timeout_s)
  except subprocess.TimeoutExpired:
    timed_out = True
    _stop(proc)
  _kill_group(proc.pid)  # anything the child left behind in its group
  for reader in readers + ([sink] if sink else []):
    reader.join(timeout=10)
  seconds = time.perf_counter() - start
  stdout, stderr = readers[0].text(), readers[1].text()
  results = readers[2] if read_end is not None else None
  return SandboxResult(proc.returncode, stdout, stderr, seconds, tuple(layers),
                       _limit_hit(proc.returncode, stderr, timed_out, limits),
                       results.data() if results else b"", bool(results and results.truncated),
                       bool(sink and (sink.truncated or sink.is_alive())))


def _stop(proc: subprocess.Popen) -> None:
  """SIGTERM (the supervisor then kills its whole tree), SIGKILL of the group if that does not end it."""
  try:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=5)
  except subprocess.TimeoutExpired:
    _kill_group(proc.pid)
    proc.wait()


def _kill_group(pgid: int) -> None:
  try:
    os.killpg(pgid, signal.SIGKILL)
  except (ProcessLookupError, PermissionError):
    pass


class _CappedReader(threading.Thread):
  """Drains a stream in the background, keeping its first (`head`) or last (`tail`) `cap` bytes (and
  copying everything to `echo`, when given)."""

  def __init__(self, stream, cap: int, keep: str = "tail", echo=None):
    super().__init__(daemon=True)
    self.stream, self.cap, self.keep, self.echo = stream, cap, keep, echo
    self.buffer = bytearray()
    self.truncated = False
    self.start()

  def run(self) -> None:
    with self.stream:
      while chunk := self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536):
        self.buffer += chunk
        if self.echo is not None:
          self.echo.write(chunk.decode("utf-8", errors="replace"))
          self.echo.flush()
        if len(self.buffer) > self.cap:
          self.truncated = True
          self.buffer = self.buffer[:self.cap] if self.keep == "head" else self.buffer[-self.cap:]

  def data(self) -> bytes:
    return bytes(self.buffer)

  def text(self) -> str:
    return self.data().decode("utf-8", errors="replace")


class _FileSink(threading.Thread):
  """Copies a stream to a file in the background, stopping (and marking `truncated`) past DATA_CAP_BYTES."""

  def __init__(self, stream, path: str):
    super().__init__(daemon=True)
    self.stream, self.path, self.truncated = stream, path, False
    self.start()

  def run(self) -> None:
    written = 0
    with self.stream, open(self.path, "wb") as out:
      while chunk := self.stream.read1(2**20):
        written += len(chunk)
        if written > DATA_CAP_BYTES:
          self.truncated = True
          continue  # keep draining so the writer never blocks; the file is refused
        out.write(chunk)


def _limit_hit(returncode: int, stderr: str, timed_out: bool, limits: Limits) -> str | None:
  if timed_out:
    return f"wall-clock timeout of {limits.timeout_s:g} s"
  if returncode in (-signal.SIGXCPU, -signal.SIGKILL) and "MemoryError" not in stderr:
    return f"CPU time limit of {limits.cpu_seconds} s" if returncode == -signal.SIGXCPU else "killed (SIGKILL)"
  if returncode == -signal.SIGXFSZ or "File too large" in stderr:
    return f"file size limit of {(limits.max_file_bytes or 0) // 2**20} MiB"
  memory_signs = ("MemoryError", "std::bad_alloc", "RESOURCE_EXHAUSTED", "Cannot allocate memory",
                  "Out of memory", "out of memory")
  if any(s in stderr for s in memory_signs):
    return f"memory limit of {(limits.memory_bytes or 0) / 2**30:g} GiB"
  if "Resource temporarily unavailable" in stderr or "can't start new thread" in stderr:
    return f"process limit of {limits.max_processes}"
  return None
