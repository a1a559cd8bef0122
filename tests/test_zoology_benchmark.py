"""`benchmarks/zoology_mqar.py`: out-of-range flags are one sentence and exit 2; a toy-sized table runs
through the real rung-0 training and prints the paper's values beside the measured ones."""

import subprocess
import sys

import pytest

from shared_fixtures import ROOT, main_env

BENCHMARK = [sys.executable, "benchmarks/zoology_mqar.py"]


def _run(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([*BENCHMARK, *args], cwd=ROOT, env=main_env(), capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args, says", [
    (("--cells", "64:40"), "too short for 40 pairs"),
    (("--vocab", "10", "--cells", "16:4"), "distinct keys"),
    (("--cells", "64-4"), "cells must look like"),
    (("--mixers", "gpt9"), "unknown mixer"),
])
def test_bad_flags_are_one_sentence_and_exit_2(args, says):
  result = _run(*args)
  assert result.returncode == 2 and says in result.stderr
  assert "Traceback" not in result.stderr


def test_a_toy_table_trains_every_cell_and_prints_the_paper_beside_it():
  result = _run("--cells", "16:2,32:4", "--mixers", "gpt2", "--width", "32", "--attention_layers", "1",
                "--vocab", "64", "--learning_rates", "1e-2,3e-3", "--steps", "4", "--batch", "8",
                "--eval_every", "2", "--eval_rows", "8")
  assert result.returncode == 0, result.stderr[-2000:]
  lines = result.stdout.splitlines()
  assert sum("gpt2    T=" in line for line in lines) == 4  # two cells x two learning rates, none solved
  assert any(line.startswith("16 (2)") for line in lines) and any(line.startswith("32 (4)") for line in lines)
  assert "paper attn" in result.stdout and "total" in lines[-1]
