"""launch/tpu_vm.sh with DRY_RUN=1: the gcloud commands it would run (create, copy and install on every
worker, the controller on worker 0, on a multi-host slice a slice verifier on every worker with a shared
WORKDIR and store, logs, a clean stop, delete), remote commands that are valid shell, hidden secrets, and
bad input as exit 2."""

import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).parents[2]
SCRIPT = ROOT / "launch" / "tpu_vm.sh"
BASE = {"TPU": "my-tpu", "ZONE": "us-central2-b", "DRY_RUN": "1"}

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def tpu_vm(*args: str, **env: str) -> subprocess.CompletedProcess:
  clean = {k: v for k, v in os.environ.items() if k not in ("PROJECT", "CONFIG", "WORKDIR", "WORKERS", "FORWARD_ENV",
                                                                "STORE_URL")}
  return subprocess.run(["bash", str(SCRIPT), *args], env={**clean, **env}, capture_output=True, text=True,
                        timeout=60)


def printed(*args: str, **env: str) -> list[list[str]]:
  """The printed commands, each split back into its arguments."""
  result = tpu_vm(*args, **{**BASE, **env})
  assert result.returncode == 0, result.stderr
  return [shlex.split(line) for line in result.stdout.splitlines()]


def remote(cmd: list[str]) -> str:
  """The --command of a `gcloud ... ssh`, checked to be valid shell."""
  assert cmd[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh"] and cmd[5] == "my-tpu"
  script = cmd[cmd.index("--command") + 1]
  assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0, script
  return script


def worker(cmd: list[str]) -> str:
  return next(a.split("=", 1)[1] for a in cmd if a.startswith("--worker="))


def test_default_copies_installs_everywhere_and_starts_the_controller_on_worker_0():
  tar, scp, setup, start = printed("--config.verify.data.tfds_name=smollm corpus", "--config.evolve.rungs=('14M',)")
  assert tar[:4] == ["tar", "czf", "/tmp/genesys_jax-my-tpu.tgz", "-C"] and tar[4] == str(ROOT)
  assert {"--exclude=./.git", "--exclude=./.venv", "--exclude=./runs"} <= set(tar)
  assert scp == ["gcloud", "compute", "tpus", "tpu-vm", "scp", "/tmp/genesys_jax-my-tpu.tgz", "my-tpu:genesys_jax.tgz",
                 "--worker=all", "--zone", "us-central2-b"]
  assert worker(setup) == "all" and ".venv/bin/pip install -q -e '.[tpu]'" in remote(setup)
  assert "python3.11 -m venv .venv" in remote(setup)
  assert worker(start) == "0" and start[-2:] == ["--zone", "us-central2-b"]
  script = remote(start)
  assert script.startswith("cd genesys_jax && mkdir -p runs/tpu && if kill -0 $(cat runs/tpu/controller.pid 2>/dev/null)")
  main = shlex.split(script.split("nohup env ")[1].split(" >> ")[0])  # only nohup in the background
  assert main == [".venv/bin/python", "-m", "genesys_jax.main", "--config", "configs/tpu.py", "--workdir", "runs/tpu",
                  "--config.verify.data.tfds_name=smollm corpus", "--config.evolve.rungs=('14M',)"]
  assert script.endswith(">> runs/tpu/controller.log 2>&1 < /dev/null & echo $! > runs/tpu/controller.pid; }; fi")


def test_create_with_project_and_spot_then_logs_stop_delete():
  create, logs, stop, delete = printed("create", "logs", "stop", "delete", PROJECT="proj", SPOT="1",
                                       ACCELERATOR_TYPE="v5litepod-8", RUNTIME_VERSION="v2-alpha-tpuv5-lite")
  assert create == ["gcloud", "compute", "tpus", "tpu-vm", "create", "my-tpu", "--accelerator-type", "v5litepod-8",
                    "--version", "v2-alpha-tpuv5-lite", "--spot", "--zone", "us-central2-b", "--project", "proj"]
  assert remote(logs) == "cd genesys_jax && tail -n 100 -f runs/tpu/controller.log"
  assert remote(stop) == "cd genesys_jax && kill -INT $(cat runs/tpu/controller.pid)"
  assert delete[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "delete", "my-tpu"] and "--quiet" in delete


def test_config_workdir_and_remote_dir_are_used_as_given():
  start, = printed("start", CONFIG="configs/tpu.py:offline", WORKDIR="/mnt/shared/runs/a b", REMOTE_DIR="src/g")
  script = remote(start)
  assert script.startswith("cd src/g && mkdir -p '/mnt/shared/runs/a b' && ")
  assert "--config configs/tpu.py:offline --workdir '/mnt/shared/runs/a b'" in script


def test_a_multi_host_slice_runs_the_controller_on_worker_0_and_a_slice_verifier_everywhere():
  start, everywhere = printed("start", WORKERS="4", STORE_URL="postgresql://me@db/run1", WORKDIR="/mnt/shared/r",
                              CONFIG="configs/tpu.py:offline")
  assert worker(start) == "0" and worker(everywhere) == "all"
  main = shlex.split(remote(start).split("nohup env ")[1].split(" >> ")[0])
  assert main[main.index("--config") + 1] == "configs/tpu.py:offline,slice"
  assert main[-1] == "--config.evolve.store_url=postgresql://me@db/run1"
  script = remote(everywhere)
  assert script.startswith("cd genesys_jax && mkdir -p /mnt/shared/r && if kill -0 $(cat /mnt/shared/r/slice-worker.")
  assert script.endswith(" >> /mnt/shared/r/slice-worker.$(hostname).log 2>&1 < /dev/null & echo $! > "
                         "/mnt/shared/r/slice-worker.$(hostname).pid; }; fi")
  inner = shlex.split(script.split("nohup sh -c ")[1].split(" >> /mnt")[0])[0]  # waits for the run, then execs
  assert subprocess.run(["bash", "-n", "-c", inner]).returncode == 0, inner
  assert inner.startswith("until [ -f /mnt/shared/r/store.url ]; do sleep 2; done; exec env GENESYS_JAX_NUM_PROCESSES=4 "
                          "GENESYS_JAX_PROCESS_ID=$(curl -s -H Metadata-Flavor:Google ")
  assert inner.endswith("agent-worker-number) GENESYS_JAX_SLICE=my-tpu .venv/bin/python -m genesys_jax.evolve.worker"
                        " --workdir /mnt/shared/r")
  stop_controller, stop_slice = printed("stop", WORKERS="4", STORE_URL="postgresql://me@db/run1", WORKDIR="/mnt/shared/r")
  assert worker(stop_controller) == "0" and worker(stop_slice) == "all"
  assert remote(stop_slice) == "kill -TERM $(cat /mnt/shared/r/slice-worker.$(hostname).pid)"
  [plain, _] = printed("start", WORKERS="2", STORE_URL="postgresql://me@db/run1", WORKDIR="/r")
  main = shlex.split(remote(plain).split("nohup env ")[1].split(" >> ")[0])
  assert main[main.index("--config") + 1] == "configs/tpu.py:slice"


def test_a_second_start_leaves_the_running_controller_alone(tmp_path):
  """The start command run on the VM twice: one controller, its pid file and log kept (the second says so)."""
  [start] = printed("start")
  fake = tmp_path / "genesys_jax" / ".venv" / "bin" / "python"
  fake.parent.mkdir(parents=True)
  fake.write_text("#!/bin/sh\necho started\nexec sleep 120\n")
  fake.chmod(0o755)
  first = subprocess.run(["bash", "-c", remote(start)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
  run = tmp_path / "genesys_jax" / "runs" / "tpu"
  pid = int((run / "controller.pid").read_text())
  try:
    second = subprocess.run(["bash", "-c", remote(start)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.returncode == second.returncode == 0, (first.stderr, second.stderr)
    assert second.stdout == f"already running: pid {pid} (runs/tpu/controller.pid)\n"
    assert int((run / "controller.pid").read_text()) == pid
    os.kill(pid, 0)  # still running
    deadline = time.monotonic() + 60
    while not (run / "controller.log").read_text() and time.monotonic() < deadline:
      time.sleep(0.05)  # the first one's first line
    assert (run / "controller.log").read_text() == "started\n"  # one controller started, its log kept
  finally:
    os.kill(pid, signal.SIGKILL)


def test_forwarded_variables_are_passed_but_hidden_in_a_dry_run():
  result = tpu_vm("start", **BASE, FORWARD_ENV="GEMINI_API_KEY", GEMINI_API_KEY="secret-value")
  assert result.returncode == 0 and "secret-value" not in result.stdout
  assert "nohup env 'GEMINI_API_KEY=<hidden>' .venv/bin/python" in remote(shlex.split(result.stdout))


@pytest.mark.parametrize("args, env, message", [
    ([], {"ZONE": "z"}, "set TPU to the TPU VM's name and ZONE"),
    (["deploy"], BASE, "unknown action 'deploy'"),
    ([], {**BASE, "WORKERS": "two"}, "WORKERS must be a positive number"),
    ([], {**BASE, "DRY_RUN": "0", "FORWARD_ENV": "NOT_SET_ANYWHERE_X"}, "FORWARD_ENV names NOT_SET_ANYWHERE_X"),
    ([], {**BASE, "FORWARD_ENV": "BAD-NAME"}, "'BAD-NAME' is not a name"),
    (["start"], {**BASE, "WORKERS": "2", "WORKDIR": "/r"}, "set STORE_URL"),
    (["start"], {**BASE, "WORKERS": "2", "STORE_URL": "postgresql://me@db/r"}, "set WORKDIR to an absolute path"),
])
def test_bad_input_is_one_line_and_exit_2(args, env, message):
  result = tpu_vm(*args, **env)
  assert result.returncode == 2 and result.stdout == ""
  assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and message in result.stderr
