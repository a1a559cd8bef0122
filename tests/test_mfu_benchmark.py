"""`benchmarks/mfu.py` in CI-sized form: bad flags are one sentence and exit 2; on the CPU the GPT seed's
14M step goes through the compile gate (accumulating when its memory is capped) and is timed; with
--runslow, a whole 14M verification prints its wall time by phase."""

import re
import subprocess
import sys

import pytest

from shared_fixtures import ROOT, main_env

BENCHMARK = [sys.executable, "benchmarks/mfu.py"]


def _run(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([*BENCHMARK, *args], cwd=ROOT, env=main_env(), capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args, says", [
    (("--scales", "7M"), "--scales must name rungs of 14M"),
    (("--length", "64", "--batch_tokens", "100"), "must be a multiple of --length (64)"),
    (("--steps", "0"), "--steps must be at least 1"),
])
def test_bad_flags_are_one_sentence_and_exit_2(args, says):
  result = _run(*args)
  assert result.returncode == 2 and says in result.stderr
  assert "Traceback" not in result.stderr


def test_the_cpu_sized_ladder_plans_and_times():
  result = _run("--scales", "14M", "--length", "32", "--batch_tokens", "4096", "--steps", "1",
                "--device_memory_gib", "0.4")
  assert result.returncode == 0, result.stderr[-2000:]
  rung = next(line for line in result.stdout.splitlines() if line.lstrip().startswith("14M"))
  micro, steps = map(int, re.search(r"micro-batch +(\d+) x +(\d+) steps", rung).groups())
  assert micro * steps == 128 and steps > 1   # 128 rows a step (0.8 GiB of XLA's analysis), cut to fit
  assert re.search(r"[\d,]+ tok/s", rung) and "compile" in rung


@pytest.mark.slow  # verify() itself is tested at toy sizes; this 14M run takes 40 s alone, 3 min beside the suite
def test_a_whole_14m_verification_prints_its_phases():
  result = _run("--scales", "14M", "--length", "32", "--batch_tokens", "512", "--steps", "1", "--verify_steps", "2",
                "--eval_batches", "1")
  assert result.returncode == 0, result.stderr[-2000:]
  verified = next(line for line in result.stdout.splitlines() if line.startswith("verify 14M"))
  assert "completed" in verified and "2 steps" in verified
  assert all(phase in verified for phase in ("compile", "train", "eval", "diagnostics", "total"))
