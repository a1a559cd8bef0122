"""The main job with its store on a PostgreSQL server (the suite's throwaway one), a second verifier on
"another host" (its own UTS namespace and host name, started from another working directory) pulling jobs
from it, and kill -9 of that verifier mid-job: the job comes back by lease expiry alone (the controller
cannot see a process on another host) and is finished and counted once."""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from genesys_jax.evolve import layout
from genesys_jax.evolve.postgres_store import PostgresStore
from genesys_jax.evolve.store import StoreError
from genesys_jax.evolve.store_location import has_store
from shared_fixtures import ROOT, SMOKE, main_env, run_main

_HANG_GUARD_S = 900  # only a stuck run waits this long; every wait below ends on what the run records
_LEASES = ("--config.evolve.workers.lease_s=15", "--config.evolve.workers.heartbeat_s=3")
OTHER_HOST = "other-host"


def _other_host_can_be_simulated() -> bool:
  return shutil.which("unshare") is not None and subprocess.run(
      ["unshare", "--uts", "true"], capture_output=True).returncode == 0


def _store(url: str) -> PostgresStore | None:
  try:
    return PostgresStore(url, create=False)
  except StoreError:  # not created yet
    return None


def _wait_for(what, procs: list[subprocess.Popen], message: str):
  """Polls `what()` until it returns something true; fails when a process in `procs` ends first."""
  deadline = time.monotonic() + _HANG_GUARD_S
  while not (found := what()):
    ended = [p.args for p in procs if p.poll() is not None]
    assert not ended, f"{message}: {ended} ended first"
    assert time.monotonic() < deadline, f"{message}: no progress"
    time.sleep(0.2)
  return found


def _processes_outside(pid: int, workdir: pathlib.Path) -> list[str]:
  """Processes working on the run in `workdir` that are not under process `pid`."""
  inside = {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
  found = []
  for p in psutil.process_iter(["pid", "cmdline"]):
    if p.info["pid"] not in inside and p.info["pid"] != os.getpid() and str(workdir) in " ".join(p.info["cmdline"] or ()):
      found.append(" ".join(p.info["cmdline"]))
  return found


def _other_hosts_checkpointed_job(url: str, workdir: pathlib.Path):
  """The verify job the other host holds once its training has written a checkpoint, else None."""
  store = _store(url)
  if store is None:
    return None
  rows = {r.id: r for r in store.designs()}
  for job in store.jobs("verify", ("leased",)):
    [(owner,)] = store._db().execute("SELECT owner FROM jobs WHERE id=?", (job.id,)).fetchall()
    row = rows[job.payload["design_id"]]
    run_dir = workdir / layout.VERIFY / f"{row.name}-{row.content_hash[:10]}" / job.payload["rung"]
    if owner and owner.startswith(OTHER_HOST + ":") and any(p.name.isdigit() for p in run_dir.glob("checkpoints/*")):
      return job
  return None


@pytest.mark.skipif(not _other_host_can_be_simulated(), reason="needs `unshare --uts` (root) to play another host")
def test_smoke_run_on_a_server_with_a_verifier_on_another_host_killed_mid_job(postgres_url, tmp_path):
  workdir, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
  elsewhere.mkdir()
  with open(tmp_path / "main.out", "w") as out, open(tmp_path / "main.err", "w") as err:
    main = subprocess.Popen([sys.executable, "-m", "genesys_jax.main", *SMOKE, "--workdir", str(workdir),
                             f"--config.evolve.store_url={postgres_url}", *_LEASES], cwd=ROOT, env=main_env(),
                            stdout=out, stderr=err, start_new_session=True)
  _wait_for(lambda: (s := _store(postgres_url)) is not None and s.get_meta("config"), [main], "no config recorded")
  worker_cmd = ["unshare", "--uts", "sh", "-c", f'hostname {OTHER_HOST} && exec "$@"', "sh",
                sys.executable, "-m", "genesys_jax.evolve.worker", "--workdir", str(workdir)]
  with open(tmp_path / "worker.err", "w") as err:
    worker = subprocess.Popen(worker_cmd, cwd=elsewhere, env=main_env(),
                              stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
  job = _wait_for(lambda: _other_hosts_checkpointed_job(postgres_url, workdir), [main, worker],
                  "the other host never trained")
  training = [c for c in _processes_outside(main.pid, workdir) if "genesys_jax.evolve.worker" not in c]
  assert training, "the other host's training is not to be seen"
  os.killpg(worker.pid, signal.SIGKILL)  # the verifier, as a host that loses power
  worker.wait()
  # its sandboxed training dies with it, and does not write on beside the run's own verifier
  _wait_for(lambda: not _processes_outside(main.pid, workdir), [main], "the killed verifier's training lives on")
  assert main.wait(timeout=_HANG_GUARD_S) == 0, (tmp_path / "main.err").read_text()[-3000:]

  assert not (workdir / layout.STORE).exists() and has_store(workdir)
  assert (workdir / layout.STORE_URL).read_text().strip() == postgres_url
  store = PostgresStore(postgres_url, create=False)
  assert "micro1: 2/2 verified, micro2: 1/1 verified" in (tmp_path / "main.out").read_text()
  assert [r.status for r in store.designs()].count("implemented") == 3  # the seed and two new designs, on the server
  verifications = store.verifications()
  assert sorted(v.rung for v in verifications) == ["micro1"] * 3 + ["micro2"] * 2
  assert len({(v.design_id, v.rung) for v in verifications}) == len(verifications)
  assert all(v.status == "completed" for v in verifications)
  assert set(store.job_counts()) == {("design", "done"), ("verify", "done")}
  # the killed job: taken back when its lease expired, trained on from the checkpoint, recorded once
  [again] = [j for j in store.jobs("verify", ("done",)) if j.id == job.id]
  assert again.attempts == 2
  [(owner,)] = store._db().execute("SELECT owner FROM jobs WHERE id=?", (job.id,)).fetchall()
  assert owner is None
  resumed = [v for v in verifications if (v.design_id, v.rung) == (job.payload["design_id"], job.payload["rung"])]
  assert len(resumed) == 1 and resumed[0].results["resumed_from"] > 0
  assert (workdir / "report" / "index.html").is_file()


def test_bad_store_urls_get_one_line_and_exit_2_with_nothing_written(tmp_path):
  workdir = tmp_path / "w"
  for url, message in [("mysql://db.example/run", "has an unknown scheme"),
                       ("postgresql://alice:hunter2@db.example/run", "holds a password"),
                       (f"postgresql:///run?host={tmp_path}&connect_timeout=2", "could not connect to the evolution store")]:
    result = run_main(*SMOKE, "--workdir", str(workdir), f"--config.evolve.store_url={url}")
    assert result.returncode == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and "hunter2" not in result.stderr, result.stderr
    assert not workdir.exists()


def _worker(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "genesys_jax.evolve.worker", *args], cwd=ROOT, env=main_env(),
                        capture_output=True, text=True, timeout=300)


def test_a_worker_given_bad_input_says_why_in_one_line_and_exits_2(postgres_server, tmp_path):
  unreachable, empty, unconfigured = tmp_path / "unreachable", tmp_path / "empty", tmp_path / "unconfigured"
  without_config = postgres_server.createdb()
  PostgresStore(without_config).close()  # a store, but no run has recorded its config in it
  garbled = tmp_path / "garbled"
  for folder, url in ((unreachable, f"postgresql:///run?host={tmp_path}&connect_timeout=2"),
                      (empty, postgres_server.createdb()), (unconfigured, without_config), (garbled, "garbage")):
    folder.mkdir()
    (folder / layout.STORE_URL).write_text(url + "\n")
  cases = [((), "--workdir is required"),
           (("--workdir", str(tmp_path / "none")), "holds no evolution run"),
           (("--workdir", str(empty), "--store_url", "mysql://db.example/run"), "has an unknown scheme"),
           (("--workdir", str(empty), "--store_url", postgres_server.url("other")), "keeps its store at"),
           (("--workdir", str(unreachable)), "could not connect to the evolution store"),
           (("--workdir", str(empty)), "no evolution store in the database"),
           (("--workdir", str(unconfigured)), "holds no config"),
           (("--workdir", str(garbled)), "store.url does not name the run's store")]
  for args, message in cases:
    result = _worker(*args)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, (
        args, result.stderr)
    assert message in result.stderr, (args, result.stderr)
  garbled_run = run_main(*SMOKE, "--workdir", str(garbled))  # the main job reads the same file
  assert garbled_run.returncode == 2 and "store.url does not name the run's store" in garbled_run.stderr
