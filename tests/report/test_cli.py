"""`python -m genesys_jax.report`: bad input is one line on stderr and exit 2; a run's report is written."""

import contextlib
import os
import sqlite3
import subprocess
import sys

import pytest

from report.hand_built import build_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _report(*args):
  return subprocess.run([sys.executable, "-m", "genesys_jax.report", *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=120, env={**os.environ, "JAX_PLATFORMS": "cpu"})


@pytest.mark.parametrize("case, expected", [
    ("no_flag", "--workdir is required"),
    ("missing", "is not a directory"),
    ("empty", "holds no evolution run"),
    ("garbage", "is not a readable evolution store"),
    ("not_a_store", "it is not an evolution store"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, case, expected):
  for name in ("garbage", "not_a_store", "empty"):
    (tmp_path / name).mkdir()
  (tmp_path / "garbage" / "store.sqlite").write_bytes(b"\x00junk" * 500)
  with contextlib.closing(sqlite3.connect(tmp_path / "not_a_store" / "store.sqlite")) as db:
    db.execute("CREATE TABLE t (x)")
  args = [] if case == "no_flag" else ["--workdir", str(tmp_path / case)]
  result = _report(*args)
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr


def test_a_run_gets_its_report_at_the_default_place(tmp_path):
  build_run(tmp_path)
  result = _report("--workdir", str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == f"report: {tmp_path / 'report' / 'index.html'}"
  assert (tmp_path / "report" / "designs" / "d3.html").is_file()
