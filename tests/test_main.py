"""The main job end to end on the smoke config: a whole run, resume after kill -9 at moments chosen by
what the run has done, a clean stop on SIGINT, one controller per run directory, and bad input as one
line with exit 2."""

import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from genesys_jax.evolve.store import RUN_LEASE, SCHEMA_VERSION
from genesys_jax.evolve.sqlite_store import SQLiteStore
from shared_fixtures import ROOT, SMOKE, copy_run, main_env, run_main as _main

_HANG_GUARD_S = 900  # only a stuck run ever waits this long; every wait ends on what the run records


def _start(*args, logs: pathlib.Path) -> subprocess.Popen:
  """The main job in its own process group, its stdout and stderr going to files under `logs` (a pipe
  nobody reads would fill up and block it during a long wait)."""
  logs.mkdir(parents=True, exist_ok=True)
  with open(logs / "stdout", "a") as out, open(logs / "stderr", "a") as err:
    return subprocess.Popen([sys.executable, "-m", "genesys_jax.main", *args], cwd=ROOT, env=main_env(),
                            stdout=out, stderr=err, text=True, start_new_session=True)


def _outcome(workdir) -> dict:
  """What a run recorded: designs by name and status, verifications by (design, rung) with their bpb."""
  store = SQLiteStore(workdir / "store.sqlite", create=False)
  names = {r.id: r.name for r in store.designs()}
  return {"designs": sorted((r.name, r.content_hash, r.status) for r in store.designs()),
          "verifications": {(names[v.design_id], v.rung): v.results["eval"]["validation"]["bits_per_byte"]
                            for v in store.verifications()},
          "jobs": store.job_counts()}


def _store(workdir: pathlib.Path) -> SQLiteStore | None:
  try:
    return SQLiteStore(workdir / "store.sqlite", create=False)
  except Exception:  # not created yet
    return None


def _wait_until(proc: subprocess.Popen, happened: Callable[[], bool]) -> bool:
  """Waits until `happened()` (True) or the process ends (False)."""
  deadline = time.monotonic() + _HANG_GUARD_S
  while proc.poll() is None:
    try:
      if happened():
        return True
    except (sqlite3.Error, OSError):  # the store is being created
      pass
    assert time.monotonic() < deadline, "the run made no progress"
    time.sleep(0.1)
  return False


def _leased(workdir: pathlib.Path, kind: str) -> bool:
  store = _store(workdir)
  return store is not None and bool(store.jobs(kind, ("leased",)))


def _checkpointed(workdir: pathlib.Path, rung: str) -> bool:
  return any(p.name.isdigit() for p in workdir.glob(f"verify/*/{rung}/checkpoints/*"))


def _sessions_done(workdir: pathlib.Path) -> int:
  store = _store(workdir)
  return 0 if store is None else len(store.sessions())


def test_smoke_run_designs_verifies_and_promotes(smoke_run):
  workdir, stdout = smoke_run
  assert "run finished: 2 new designs accepted" in stdout
  assert "micro1: 2/2 verified, micro2: 1/1 verified" in stdout
  assert "verified micro1" in stdout and "ETA" in stdout  # the status line
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
  assert f"report: {workdir / 'report' / 'index.html'}" in stdout


def test_no_process_under_the_run_sees_the_api_keys(smoke_run):
  """The smoke run was started with API keys in its environment: its verifiers and sandboxed checks got
  an allow-listed one."""
  children = json.loads((smoke_run[0].parent / "children.json").read_text())
  assert any("genesys_jax.evolve.worker" in s for s in children["seen"]), children["seen"]
  assert any("bwrap" in s or "genesys_jax.check" in s for s in children["seen"]), children["seen"]
  assert children["leaked"] == []


def test_finished_run_resumes_without_redoing_work(smoke_run, tmp_path):
  workdir = copy_run(smoke_run[0], tmp_path / "run")
  before = _outcome(workdir)
  again = _main(*SMOKE, "--workdir", str(workdir))
  assert again.returncode == 0, again.stderr[-2000:]
  assert _outcome(workdir) == before


def test_kill_9_at_three_moments_loses_and_duplicates_nothing(smoke_run, tmp_path):
  """kill -9 of the whole run mid-training of a seed, after the first design session, and mid-training at
  the second rung; each moment is what the run has recorded, never a guess at how fast it goes."""
  reference, _ = smoke_run
  workdir = tmp_path / "run"
  moments = [lambda: _checkpointed(workdir, "micro1"), lambda: _sessions_done(workdir) >= 1,
             lambda: _checkpointed(workdir, "micro2")]
  for moment in moments:
    proc = _start(*SMOKE, "--workdir", str(workdir), logs=tmp_path / "logs")
    assert _wait_until(proc, moment), "the run ended before the moment to kill it"
    os.killpg(proc.pid, signal.SIGKILL)  # the controller, its verifier and designer, all at once
    proc.wait()
  finished = _main(*SMOKE, "--workdir", str(workdir))
  assert finished.returncode == 0, finished.stderr[-3000:]
  got, want = _outcome(workdir), _outcome(reference)
  assert got["designs"] == want["designs"] and got["jobs"] == want["jobs"]
  assert got["verifications"].keys() == want["verifications"].keys()
  for key, bpb in want["verifications"].items():  # resumed training continues exactly where it stopped
    assert got["verifications"][key] == pytest.approx(bpb, rel=1e-4), key


def test_sigint_stops_cleanly_and_a_second_controller_is_refused(tmp_path):
  workdir = tmp_path / "run"
  proc = _start(*SMOKE, "--workdir", str(workdir), logs=tmp_path / "logs")
  assert _wait_until(proc, lambda: _leased(workdir, "verify")), "the run ended before any verification began"
  second = _main(*SMOKE, "--workdir", str(workdir))
  assert second.returncode == 2 and "is being driven by" in second.stderr
  os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
  proc.wait(timeout=_HANG_GUARD_S)
  out, err = (tmp_path / "logs" / "stdout").read_text(), (tmp_path / "logs" / "stderr").read_text()
  assert proc.returncode == 130, err[-2000:]
  assert "stopped; run the same command to continue" in out and "Traceback" not in err
  store = SQLiteStore(workdir / "store.sqlite", create=False)
  assert not store.jobs("verify", ("leased",)) and not store.jobs("design", ("leased",))
  assert store.get_meta(RUN_LEASE) is None


def test_a_run_with_another_config_is_refused_unless_allowed(smoke_run, tmp_path):
  workdir = copy_run(smoke_run[0], tmp_path / "run")
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
