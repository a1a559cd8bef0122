"""`python -m genesys_jax.verify`: bad input is one line and exit 2; SIGKILL and SIGTERM resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from genesys_jax.units.seeds import seed_design
from shared_fixtures import watched_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = ["--config", "configs/default.py", "--config.verify.mesh.data=1", "--config.verify.eval.max_batches=1",
         "--config.verify.diagnostics.enabled=False", "--config.verify.train.batch_tokens=1024",
         "--config.verify.checkpoint.every_steps=5", "--config.verify.train.log_every=5"]


def _cmd(*args):
  return [sys.executable, "-m", "genesys_jax.verify", *args]


def _run(*args, timeout=600):
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  return subprocess.run(_cmd(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--scale", "micro1", "--workdir", "w"], "--design is required"),
    (["--design", "nowhere", "--scale", "micro1", "--workdir", "w"], "nowhere"),
    (["--design", "DESIGN", "--scale", "huge", "--workdir", "w"], "unknown scale 'huge'"),
    (["--design", "DESIGN", "--scale", "micro1", "--workdir", "w", "--config", "configs/default.py",
      "--config.verify.train.clip_norm=-1"], "train.clip_norm must be positive"),
    (["--design", "DESIGN", "--scale", "micro1", "--workdir", "w", "--config", "configs/default.py",
      "--config.verify.data.source=tfds", "--config.verify.data.tfds_name=c4",
      "--config.verify.data.tfds_data_dir=/no/such/dir"], "tfds data_dir '/no/such/dir' does not exist"),
    (["--design", "DESIGN", "--scale", "micro1", "--workdir", "w", "--config", "configs/default.py",
      "--config.verify.traim.max_steps=3"], "unknown config field"),
    (["--design", "DESIGN", "--scale", "micro1", "--workdir", "w", "--config", "configs/default.py",
      "--config.verify.train.micro_batch=-2"], "train.micro_batch must be 0"),
    (["--design", "DESIGN", "--scale", "micro1", "--workdir", "w", "--config", "configs/default.py",
      "--config.verify.diagnostics.scale=huge"], "diagnostics.scale must be ''"),
], ids=["no-design", "missing-design", "unknown-scale", "out-of-range", "missing-tfds", "unknown-field",
        "negative-micro-batch", "unknown-diagnostics-scale"])
def test_bad_input_is_one_sentence_and_exit_2(args, message, gpt2_dir, tmp_path):
  args = [str(gpt2_dir) if a == "DESIGN" else str(tmp_path / "w") if a == "w" else a for a in args]
  done = _run(*args)
  assert done.returncode == 2, done.stderr[-1500:]
  assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and message in done.stderr
  assert "Traceback" not in done.stderr


def test_the_summary_states_the_accumulation_and_a_rung_0_failure(gpt2_dir, tmp_path):
  done = _run("--design", str(gpt2_dir), "--scale", "micro1", "--workdir", str(tmp_path / "w"), *SMALL,
              "--config.verify.train.max_steps=2", "--config.verify.train.micro_batch=2",
              "--config.verify.diagnostics.enabled=True", "--config.verify.diagnostics.vocab=100000")
  assert done.returncode == 0, done.stderr[-1500:]
  assert "4 micro-batches of 2 rows a step" in done.stdout
  assert "rung 0 failed: ValueError: diagnostics.vocab 100000 is larger" in done.stdout


def _history(workdir):
  (path,) = workdir.glob("*/micro1/history.jsonl")
  return [json.loads(line) for line in path.read_text().splitlines()]


def _wait_for_checkpoint(workdir, proc, at_least):
  deadline = time.time() + 300
  while time.time() < deadline and proc.poll() is None:
    steps = [int(p.name) for p in workdir.glob("*/micro1/checkpoints/*") if p.name.isdigit()]
    if steps and max(steps) >= at_least:
      return max(steps)
    time.sleep(0.05)
  raise AssertionError(f"no checkpoint at step {at_least} before the run ended: {proc.communicate()}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
  """The design, the arguments and the loss curve of a run that nobody stops."""
  tmp = tmp_path_factory.mktemp("uninterrupted")
  design = seed_design("gpt2").save(tmp / "gpt2")
  args = ["--design", str(design), "--scale", "micro1", *SMALL, "--config.verify.train.max_steps=60"]
  whole = _run(*args, "--workdir", str(tmp / "whole"))
  assert whole.returncode == 0, whole.stderr[-1500:]
  return args, _history(tmp / "whole")


# kill -9 of a verifier mid-training is also what tests/test_main.py's kill -9 test does to whole runs
@pytest.mark.parametrize("sig", [pytest.param(signal.SIGKILL, marks=pytest.mark.slow), signal.SIGTERM],
                         ids=["kill-9", "sigterm"])
def test_a_killed_run_resumes_to_the_same_end_and_curve(sig, uninterrupted, tmp_path):
  args, reference = uninterrupted
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  proc = subprocess.Popen(_cmd(*args, "--workdir", str(tmp_path / "split")), cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  _wait_for_checkpoint(tmp_path / "split", proc, at_least=20)
  proc.send_signal(sig)
  out, err = proc.communicate(timeout=120)
  if sig == signal.SIGTERM:
    assert proc.returncode == 143 and "preempted" in out, err[-1500:]
  else:
    assert proc.returncode == -signal.SIGKILL
  again = _run(*args, "--workdir", str(tmp_path / "split"))
  assert again.returncode == 0, again.stderr[-1500:]
  result = json.loads(next((tmp_path / "split").glob("*/micro1/results.json")).read_text())
  assert result["status"] == "completed" and result["train"]["steps"] == 60 and result["resumed_from"] >= 20
  split = _history(tmp_path / "split")
  assert [r["step"] for r in split] == list(range(1, 61))
  assert [r["loss"] for r in split] == pytest.approx([r["loss"] for r in reference], rel=1e-6)


def test_no_process_under_the_verifier_sees_the_api_keys(tmp_path):
  """The design trains in the sandbox, whose environment is allow-listed: the CLI's secrets stay with it."""
  design = seed_design("gpt2").save(tmp_path / "gpt2")
  cli = _cmd("--design", str(design), "--scale", "micro1", *SMALL,
             "--config.verify.train.max_steps=30", "--workdir", str(tmp_path / "w"))
  result, seen, leaked = watched_run(cli, {**os.environ, "JAX_PLATFORMS": "cpu"})
  assert result.returncode == 0, result.stderr[-1500:]
  assert any("job" in s or "supervisor" in s for s in seen) or any("bwrap" in s for s in seen), seen
  assert leaked == []
