"""Expensive fixtures built once for the whole test suite, across pytest-xdist workers.

The first worker that asks builds the fixture under a file lock in the suite's shared folder (made by
conftest.py); the others wait on the lock and reuse it. A failed build is recorded, so every test that
needs it fails with the same message instead of building it again. Shared fixtures are read-only:
a test that changes one works on a copy (`copy_run`).
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

import psutil
import pytest

SHARED_ENV = "GENESYS_TEST_SHARED"
ROOT = pathlib.Path(__file__).resolve().parents[1]
SMOKE = ("--config", "configs/default.py:smoke")
SECRETS = {"GEMINI_API_KEY": "smoke-key-0451", "OPENAI_API_KEY": "smoke-key-0451", "HF_TOKEN": "smoke-token-0451"}
"""Put in the environment of the commands the tests watch; no process under them may see one."""


def build_once(name: str, build: Callable[[pathlib.Path], None]) -> pathlib.Path:
  """The folder of shared fixture `name`, running `build(folder)` if no worker has built it yet."""
  root = pathlib.Path(os.environ[SHARED_ENV])
  folder, failed = root / name, root / f"{name}.failed"
  with open(root / f"{name}.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if failed.exists():
      pytest.fail(f"shared fixture {name} failed to build in another test: {failed.read_text()}")
    if not (folder / ".built").exists():
      shutil.rmtree(folder, ignore_errors=True)
      folder.mkdir()
      try:
        build(folder)
      except BaseException as e:
        failed.write_text(f"{type(e).__name__}: {e}"[-3000:])
        raise
      (folder / ".built").touch()
  return folder


def main_env() -> dict[str, str]:
  """The environment the tests run the main job in: this one's, on the CPU, output unbuffered, with 2 fake
  devices (still a sharded mesh; 8 fake devices on 2 cores double every training step's time)."""
  flags = os.environ.get("XLA_FLAGS", "").replace("--xla_force_host_platform_device_count=8",
                                                  "--xla_force_host_platform_device_count=2")
  return {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1", "XLA_FLAGS": flags}


def run_main(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
  """`python -m genesys_jax.main ARGS` from the repository root on the CPU."""
  return subprocess.run([sys.executable, "-m", "genesys_jax.main", *args], cwd=ROOT, env=main_env(),
                        capture_output=True, text=True, timeout=timeout)


def watched_run(cli: Sequence[str], env: dict[str, str], timeout: float = 900
                ) -> tuple[subprocess.CompletedProcess, set[str], list[str]]:
  """Runs `cli` with `env` plus `SECRETS`, polling every process under it: what it printed, the processes
  seen (program and the project modules on its command line) and those whose environment held a secret."""
  cli, seen, leaked = list(cli), set(), []
  with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
    proc = subprocess.Popen(cli, cwd=ROOT, env={**env, **SECRETS}, stdout=out, stderr=err, text=True)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
      try:
        children = psutil.Process(proc.pid).children(recursive=True)
      except psutil.NoSuchProcess:
        break
      for child in children:
        try:
          environ, cmdline = child.environ(), child.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
          continue
        if cmdline == cli:
          continue  # forked by subprocess and not yet exec'd: still the command itself (its argv)
        name = " ".join([os.path.basename(cmdline[0])] + [w for w in cmdline[1:] if w.startswith("genesys_jax.")])
        seen.add(name)
        if any(v in SECRETS.values() for v in environ.values()):
          leaked.append(name)
      time.sleep(0.05)
    if proc.poll() is None:
      proc.kill()
    proc.wait()
    out.seek(0)
    err.seek(0)
    return subprocess.CompletedProcess(cli, proc.returncode, out.read(), err.read()), seen, leaked


def copy_run(workdir: pathlib.Path, to: pathlib.Path) -> pathlib.Path:
  """A copy of the run in `workdir` at `to` (its store checkpointed first, so the copy is whole)."""
  sqlite3.connect(workdir / "store.sqlite").execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
  shutil.copytree(workdir, to, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
  return to


@pytest.fixture(scope="session")
def smoke_run() -> tuple[pathlib.Path, str]:
  """A finished `configs/default.py:smoke` run (read-only) and what the main command printed; started with
  `SECRETS` in its environment, the processes under it and any that saw one are in `children.json`."""
  def build(folder: pathlib.Path) -> None:
    result, seen, leaked = watched_run([sys.executable, "-m", "genesys_jax.main", *SMOKE, "--workdir",
                                        str(folder / "run")], main_env())
    (folder / "main.stdout").write_text(result.stdout)
    (folder / "children.json").write_text(json.dumps({"seen": sorted(seen), "leaked": leaked}))
    assert result.returncode == 0, result.stderr[-3000:]

  folder = build_once("smoke_run", build)
  return folder / "run", (folder / "main.stdout").read_text()
