"""Two local processes forming one 2-host CPU "slice" (`jax.distributed` with a localhost coordinator, each
process with 2 fake CPU devices of its own) verify one design in lockstep through the real command and its
sandbox: the same loss curve as one process with the same global batch (4 devices, the same data shards);
SIGTERM to one host stops both cleanly at the same step, and the rerun resumes from the checkpoint."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from genesys_jax.distributed import NUM_PROCESSES_ENV, PROCESS_ID_ENV
from genesys_jax.units.seeds import seed_design
from shared_fixtures import ROOT

_HANG_GUARD_S = 600
EARLY = 30  # steps over which rounding has not grown yet
SETTINGS = ["--config", "configs/default.py:smoke", "--config.verify.data.shards=2",
            "--config.verify.train.max_steps=60"]


def _env(devices: int, **extra: str) -> dict[str, str]:
  flags = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f)
  return {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count={devices}",
          **extra}


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start_slice(design: pathlib.Path, workdir: pathlib.Path, logs: pathlib.Path) -> list[subprocess.Popen]:
  """Both hosts of the slice: `python -m genesys_jax.verify` as process 0 and process 1 of two."""
  port, procs = _free_port(), []
  for k in (0, 1):
    env = _env(2, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", **{NUM_PROCESSES_ENV: "2", PROCESS_ID_ENV: str(k)})
    with open(logs / f"host{k}.log", "a") as log:
      procs.append(subprocess.Popen([sys.executable, "-m", "genesys_jax.verify", "--design", str(design), "--scale",
                                     "micro1", "--workdir", str(workdir), *SETTINGS], cwd=ROOT, env=env,
                                    stdout=log, stderr=subprocess.STDOUT))
  return procs


def _curve(workdir: pathlib.Path, design) -> list[float]:
  [history] = workdir.glob(f"{design.name}-*/micro1/history.jsonl")
  return [json.loads(line)["loss"] for line in history.read_text().splitlines()]


def _results(workdir: pathlib.Path) -> dict:
  [results] = workdir.glob("*/micro1/results.json")
  return json.loads(results.read_text())


def test_a_two_host_slice_trains_like_one_host_and_stops_together(tmp_path):
  design = seed_design("gpt2")
  design_dir = design.save(tmp_path / "gpt2")
  one = subprocess.run([sys.executable, "-m", "genesys_jax.verify", "--design", str(design_dir), "--scale", "micro1",
                        "--workdir", str(tmp_path / "one"), *SETTINGS], cwd=ROOT, env=_env(4), capture_output=True,
                       text=True, timeout=_HANG_GUARD_S)
  assert one.returncode == 0, one.stdout[-2000:] + one.stderr[-2000:]

  workdir = tmp_path / "slice"
  hosts = _start_slice(design_dir, workdir, tmp_path)
  deadline = time.monotonic() + _HANG_GUARD_S
  while not any(p.name.isdigit() for p in workdir.glob("*/micro1/checkpoints/*")):  # training is under way
    assert all(h.poll() is None for h in hosts), (tmp_path / "host0.log").read_text()[-3000:]
    assert time.monotonic() < deadline, "the slice never checkpointed"
    time.sleep(0.1)
  hosts[1].send_signal(signal.SIGTERM)  # one host is preempted: both checkpoint at the same step and stop
  codes = [h.wait(timeout=_HANG_GUARD_S) for h in hosts]
  logs = [(tmp_path / f"host{k}.log").read_text() for k in (0, 1)]
  assert codes == [143, 143], logs
  assert all("preempted" in log and "Traceback" not in log for log in logs), logs
  stopped_at = len(_curve(workdir, design))
  assert 0 < stopped_at < len(_curve(tmp_path / "one", design))

  hosts = _start_slice(design_dir, workdir, tmp_path)  # the same commands again: resume from the checkpoint
  assert [h.wait(timeout=_HANG_GUARD_S) for h in hosts] == [0, 0], (tmp_path / "host0.log").read_text()[-3000:]
  got, want = _results(workdir), _results(tmp_path / "one")
  assert got["status"] == "completed" and got["resumed_from"] > 0 and got["train"]["devices"] == 4
  slice_curve, one_curve = _curve(workdir, design), _curve(tmp_path / "one", design)
  # The same batches and updates: the first steps agree to float rounding (the slice sums gradients across
  # processes in another order than one process does; measured: <= 1e-6 over the first 30 steps, where
  # other batches differ by 1e-3 to 5e-2 from step 2 on). Training amplifies that rounding, to 2e-4 by
  # step 50 (measured with the suite's XLA flags), far below what other data gives.
  assert slice_curve[:EARLY] == pytest.approx(one_curve[:EARLY], rel=1e-5)
  assert slice_curve == pytest.approx(one_curve, rel=1e-3)
  assert got["eval"]["validation"]["loss"] == pytest.approx(want["eval"]["validation"]["loss"], rel=1e-3)
