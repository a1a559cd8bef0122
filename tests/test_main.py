"""The main job end to end on the smoke config: a whole run, resume after kill -9 at random moments,
a clean stop on SIGINT, one controller per run directory, and bad input as one line with exit 2."""

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from genesys_jax.evolve.store import SCHEMA_VERSION, SQLiteStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = ["--config", "configs/default.py:smoke"]
_ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}


def _main(*args, timeout=600):
  return subprocess.run([sys.executable, "-m", "genesys_jax.main", *args], cwd=ROOT, env=_ENV,
                        capture_output=True, text=True, timeout=timeout)


def _start(*args) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, "-m", "genesys_jax.main", *args], cwd=ROOT, env=_ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _outcome(workdir) -> dict:
  """What a run recorded: designs by name and status, verifications by (design, rung) with their bpb."""
  store = SQLiteStore(workdir / "store.sqlite", create=False)
  names = {r.id: r.name for r in store.designs()}
  return {"designs": sorted((r.name, r.content_hash, r.status) for r in store.designs()),
          "verifications": {(names[v.design_id], v.rung): v.results["eval"]["validation"]["bits_per_byte"]
                            for v in store.verifications()},
          "jobs": store.job_counts()}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("smoke")
  result = _main(*SMOKE, "--workdir", str(workdir))
  return workdir, result


def test_smoke_run_designs_verifies_and_promotes(smoke_run):
  workdir, result = smoke_run
  assert result.returncode == 0, result.stderr[-3000:]
  assert "run finished: 2 new designs accepted" in result.stdout
  assert "micro1: 2/2 verified, micro2: 1/1 verified" in result.stdout
  assert "verified micro1" in result.stdout and "ETA" in result.stdout  # the status line
  outcome = _outcome(workdir)
  assert [status for *_, status in outcome["designs"]].count("implemented") == 3  # the seed and two new designs
  # every design at micro1; one promoted to micro2, with the GPT seed beside it as the reference row
  assert sorted(r for _, r in outcome["verifications"]) == ["micro1"] * 3 + ["micro2"] * 2
  assert ("gpt2", "micro2") in outcome["verifications"]
  assert set(outcome["jobs"]) == {("design", "done"), ("verify", "done")}
  store = SQLiteStore(workdir / "store.sqlite", create=False)
  for v in store.verifications():
    assert (workdir / v.run_dir / "results.json").is_file() and (workdir / v.run_dir / "checkpoints").is_dir()
  for s in store.sessions():
    assert s["check"]["ok"] and s["check"]["figures"]["fingerprint"]
  report = (workdir / "report" / "index.html").read_text()
  assert 'data-design="d002-mut"' in report and (workdir / "report" / "designs" / "gpt2.html").is_file()
  assert f"report: {workdir / 'report' / 'index.html'}" in result.stdout


def test_finished_run_resumes_without_redoing_work(smoke_run):
  workdir, _ = smoke_run
  before = _outcome(workdir)
  again = _main(*SMOKE, "--workdir", str(workdir))
  assert again.returncode == 0, again.stderr[-2000:]
  assert _outcome(workdir) == before


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(smoke_run, tmp_path):
  reference, _ = smoke_run
  rng = random.Random(6)
  for _ in range(3):
    proc = _start(*SMOKE, "--workdir", str(tmp_path))
    time.sleep(rng.uniform(4.0, 25.0))
    os.killpg(proc.pid, signal.SIGKILL)  # the controller, its verifier and designer, all at once
    proc.wait()
  finished = _main(*SMOKE, "--workdir", str(tmp_path))
  assert finished.returncode == 0, finished.stderr[-3000:]
  got, want = _outcome(tmp_path), _outcome(reference)
  assert got["designs"] == want["designs"] and got["jobs"] == want["jobs"]
  assert got["verifications"].keys() == want["verifications"].keys()
  for key, bpb in want["verifications"].items():  # resumed training continues exactly where it stopped
    assert got["verifications"][key] == pytest.approx(bpb, rel=1e-4), key


def test_sigint_stops_cleanly_and_a_second_controller_is_refused(tmp_path):
  proc = _start(*SMOKE, "--workdir", str(tmp_path))
  deadline = time.time() + 300
  while time.time() < deadline:  # wait for a verification in flight
    try:
      if SQLiteStore(tmp_path / "store.sqlite", create=False).jobs("verify", ("leased",)):
        break
    except Exception:  # the store may not exist yet
      pass
    time.sleep(0.5)
  second = _main(*SMOKE, "--workdir", str(tmp_path))
  assert second.returncode == 2 and "is being driven by" in second.stderr
  os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
  out, err = proc.communicate(timeout=180)
  assert proc.returncode == 130, err[-2000:]
  assert "stopped; run the same command to continue" in out and "Traceback" not in err
  store = SQLiteStore(tmp_path / "store.sqlite", create=False)
  assert not store.jobs("verify", ("leased",)) and not store.jobs("design", ("leased",))
  assert store.get_meta("controller") is None


def test_a_run_with_another_config_is_refused_unless_allowed(smoke_run, tmp_path):
  workdir = tmp_path / "run"
  sqlite3.connect(smoke_run[0] / "store.sqlite").execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
  shutil.copytree(smoke_run[0], workdir, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
  recorded = SQLiteStore(workdir / "store.sqlite", create=False).get_meta("config")
  refused = _main(*SMOKE, "--workdir", str(workdir), "--config.evolve.seed=3")
  assert refused.returncode == 2
  assert "belongs to a run with a different config (evolve.seed: 0 -> 3)" in refused.stderr
  assert "--allow_config_change" in refused.stderr
  assert SQLiteStore(workdir / "store.sqlite", create=False).get_meta("config") == recorded
  # more verifiers is not a different run
  assert _main(*SMOKE, "--workdir", str(workdir), "--config.evolve.workers.verifiers=2").returncode == 0
  allowed = _main(*SMOKE, "--workdir", str(workdir), "--config.evolve.seed=3", "--allow_config_change")
  assert allowed.returncode == 0, allowed.stderr[-2000:]
  assert SQLiteStore(workdir / "store.sqlite", create=False).get_meta("config")["evolve"]["seed"] == 3


def test_newer_or_unreadable_store_is_refused_untouched(tmp_path):
  newer = tmp_path / "newer"
  newer.mkdir()
  SQLiteStore(newer / "store.sqlite").set_meta("schema_version", SCHEMA_VERSION + 1)
  result = _main(*SMOKE, "--workdir", str(newer))
  assert result.returncode == 2 and "newer than this genesys_jax understands" in result.stderr
  assert sqlite3.connect(newer / "store.sqlite").execute(
      "SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION + 1)
  junk = tmp_path / "junk"
  junk.mkdir()
  (junk / "store.sqlite").write_bytes(b"garbage" * 1000)
  result = _main(*SMOKE, "--workdir", str(junk))
  assert result.returncode == 2 and "is not a readable evolution store" in result.stderr
  assert (junk / "store.sqlite").read_bytes() == b"garbage" * 1000


@pytest.mark.parametrize("args, message", [
    (["--workdir", "W"], "--config is required"),
    (["--config", "configs/missing.py", "--workdir", "W"], "config file configs/missing.py does not exist"),
    (["--config", "configs/default.py:bogus", "--workdir", "W"], "unknown config variant 'bogus'"),
    (["--config", "configs/default.py"], "--workdir is required"),
    (["--config", "configs/default.py", "--workdir", "W", "--bogus"], "Unknown command line flag 'bogus'"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.nofield=1"], "unknown config field 'nofield'"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.evolve.sed=1"],
     "unknown config field 'sed' in the overrides (did you mean \"seed\" instead of \"sed\"?)"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.evolve.budget.top=abc"], "invalid literal"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.evolve.rungs=('micro9',)"],
     "evolve.rungs must name rungs of the micro ladder"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.evolve.seeds=('gpt3',)"], "unknown seeds ['gpt3']"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.evolve.budget.ratio=2.0"],
     "evolve.budget.ratio must be in (0, 1]"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.agents.designer=oracle"], "unknown designer"),
    (["--config", "configs/default.py", "--workdir", "W", "--config.agents.designer=llm",
      "--config.agents.llm.api_key_env=GENESYS_TEST_NO_SUCH_KEY"], "needs an API key in the environment variable"),
    (["--config", "configs/default.py", "--workdir", "README.md"], "exists and is not a directory"),
    (["--config", "configs/default.py", "--workdir", "W", "extra"], "unexpected arguments ['extra']"),
])
def test_bad_input_gets_one_line_and_exit_2(args, message, tmp_path):
  args = [str(tmp_path / "w") if a == "W" else a for a in args]
  result = _main(*args)
  assert result.returncode == 2, (result.stdout, result.stderr)
  assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
  assert message in result.stderr, result.stderr
  assert not (tmp_path / "w").exists()  # nothing created for a run that never started
