"""Expensive fixtures built once for the whole test suite, across pytest-xdist workers.

The first worker that asks builds the fixture under a file lock in the suite's shared folder (made by
conftest.py); the others wait on the lock and reuse it. A failed build is recorded, so every test that
needs it fails with the same message instead of building it again. Shared fixtures are read-only:
a test that changes one works on a copy (`copy_run`).
"""

from __future__ import annotations

import fcntl
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable

import pytest

SHARED_ENV = "GENESYS_TEST_SHARED"
ROOT = pathlib.Path(__file__).resolve().parents[1]
SMOKE = ("--config", "configs/default.py:smoke")


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


def copy_run(workdir: pathlib.Path, to: pathlib.Path) -> pathlib.Path:
  """A copy of the run in `workdir` at `to` (its store checkpointed first, so the copy is whole)."""
  sqlite3.connect(workdir / "store.sqlite").execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
  shutil.copytree(workdir, to, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
  return to


@pytest.fixture(scope="session")
def smoke_run() -> tuple[pathlib.Path, str]:
  """A finished `configs/default.py:smoke` run (read-only) and what the main command printed."""
  def build(folder: pathlib.Path) -> None:
    result = run_main(*SMOKE, "--workdir", str(folder / "run"))
    (folder / "main.stdout").write_text(result.stdout)
    assert result.returncode == 0, result.stderr[-3000:]

  folder = build_once("smoke_run", build)
  return folder / "run", (folder / "main.stdout").read_text()
