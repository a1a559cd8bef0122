"""The verifier as the processes of a multi-host slice: two local processes (a 2-host CPU "slice", each
with 2 fake devices) share a PostgreSQL store; the leader claims the job and records it, the follower
verifies it with the leader in lockstep; SIGTERM to the follower stops both at one step and gives the job
back; the restarted slice resumes it, records it once, and both leave when the run is finished."""

import importlib.util
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

from genesys_jax.distributed import HEARTBEAT_TIMEOUT_ENV, NUM_PROCESSES_ENV, PROCESS_ID_ENV
from genesys_jax.evolve import layout
from genesys_jax.evolve.leases import is_dead, owner_name
from genesys_jax.evolve.postgres_store import PostgresStore
from genesys_jax.evolve.slice_verifier import to_follow
from genesys_jax.evolve.store_rows import NewDesign
from genesys_jax.units.seeds import seed_design
from shared_fixtures import ROOT

_HANG_GUARD_S = 600


def _smoke_config() -> dict:
  spec = importlib.util.spec_from_file_location("default_config", ROOT / "configs" / "default.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return json.loads(json.dumps(module.get_config("smoke").to_dict()))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _worker_env(port: int, index: int, count: int = 2) -> dict[str, str]:
  flags = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f)
  return {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count=2",
          "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}", NUM_PROCESSES_ENV: str(count), PROCESS_ID_ENV: str(index)}


def _run_with_one_job(url: str, workdir: pathlib.Path) -> PostgresStore:
  """A run on the server at `url` with the GPT seed and its micro1 verification queued (60 steps), and
  leases that a test can watch expire (15 s, a heartbeat every 3 s)."""
  design = seed_design("gpt2")
  path = layout.design_directory(design)
  design.save(workdir / path)
  (workdir / layout.STORE_URL).write_text(url + "\n")
  store = PostgresStore(url)
  config = _smoke_config()
  config["verify"]["train"]["max_steps"] = 60  # long enough to be stopped halfway
  config["evolve"]["workers"].update(lease_s=15.0, heartbeat_s=3.0)
  store.set_meta("config", config)
  design_id = store.add_seed(NewDesign(design.name, design.content_hash(), {"root": design.root}, path, seed=True))
  store.enqueue("verify", f"verify:{design_id}:micro1", {"design_id": design_id, "rung": "micro1"})
  return store


def _checkpointed(workdir: pathlib.Path) -> bool:
  return any(p.name.isdigit() for p in workdir.glob("verify/*/micro1/checkpoints/*"))


def test_a_slice_verifies_a_job_together_stops_together_and_records_it_once(postgres_url, tmp_path):
  workdir = tmp_path / "run"
  store = _run_with_one_job(postgres_url, workdir)
  logs = [tmp_path / f"host{k}.log" for k in (0, 1)]
  hosts = _start_slice(workdir, logs)
  _wait_for(lambda: _checkpointed(workdir), hosts, logs)
  hosts[1].send_signal(signal.SIGTERM)  # the follower's host is preempted: the whole slice stops at one step
  assert [h.wait(timeout=_HANG_GUARD_S) for h in hosts] == [143, 143], [log.read_text()[-2000:] for log in logs]
  [job] = store.jobs("verify", ("pending",))
  assert job.attempts == 0 and not store.verifications()  # given back, not failed

  hosts = _start_slice(workdir, logs)  # the slice restarted: the job resumes from its checkpoint
  _wait_for(store.verifications, hosts, logs)
  store.set_meta("finished", True)
  assert [h.wait(timeout=_HANG_GUARD_S) for h in hosts] == [0, 0]
  [v] = store.verifications()
  assert v.status == "completed" and v.results["resumed_from"] > 0, v.results
  assert v.results["train"]["devices"] == 4  # one program over both processes' devices
  assert store.job_counts() == {("verify", "done"): 1}


def _start_slice(workdir, logs, port: int | None = None, only: tuple[int, ...] = (1, 0)) -> list[subprocess.Popen]:
  """The slice's worker processes (leader first in the list; the follower starts first), or those in `only`."""
  port = port or _free_port()
  hosts = {k: subprocess.Popen([sys.executable, "-m", "genesys_jax.evolve.worker", "--workdir", str(workdir)],
                               cwd=ROOT, env={**_worker_env(port, k), HEARTBEAT_TIMEOUT_ENV: "10"},
                               stdout=open(logs[k], "a"), stderr=subprocess.STDOUT, start_new_session=True)
           for k in only}
  return [hosts[k] for k in sorted(hosts)]


def test_a_follower_that_dies_costs_the_design_no_attempt(postgres_url, tmp_path):
  """kill -9 of the follower's host mid-verification: the training gives up on it (JAX's heartbeat
  timeout), the leader gives the job back unblamed and waits; a new follower and the slice resumes."""
  workdir = tmp_path / "run"
  store = _run_with_one_job(postgres_url, workdir)
  logs = [tmp_path / f"host{k}.log" for k in (0, 1)]
  port = _free_port()
  leader, follower = _start_slice(workdir, logs, port)
  _wait_for(lambda: _checkpointed(workdir), [leader, follower], logs)
  os.killpg(follower.pid, signal.SIGKILL)
  follower.wait()
  _wait_for(lambda: store.events("slice_host_lost"), [leader], logs)
  [job] = store.jobs("verify", ("pending",))
  assert job.attempts == 0 and not store.verifications()
  [follower] = _start_slice(workdir, logs, port, only=(1,))  # the host is back
  _wait_for(store.verifications, [leader, follower], logs)
  store.set_meta("finished", True)
  assert [h.wait(timeout=_HANG_GUARD_S) for h in (leader, follower)] == [0, 0]
  [v] = store.verifications()
  assert v.status == "completed" and v.results["resumed_from"] > 0 and v.results["train"]["devices"] == 4


def _wait_for(happened, hosts, logs) -> None:
  deadline = time.monotonic() + _HANG_GUARD_S
  while not happened():
    assert all(h.poll() is None for h in hosts), [log.read_text()[-2000:] for log in logs]
    assert time.monotonic() < deadline, "the slice made no progress"
    time.sleep(0.1)


def test_a_follower_joins_only_what_the_live_leader_began_after_it_started(postgres_url):
  store = PostgresStore(postgres_url)
  store.enqueue("verify", "v", {"design_id": 1, "rung": "micro1"})
  old = {"job": 1, "claim": "c0", "leader": "dead-leader", "published": store.now(), "design_id": 1, "rung": "micro1"}
  store.claim("verify", "dead-leader", 60)
  started = store.now()
  assert not to_follow(store, old, None, started)  # published before this follower started
  new = {**old, "claim": "c1", "leader": "leader", "published": store.now()}
  assert not to_follow(store, new, None, started)  # the job is leased by another (the dead leader)
  store.reclaim(lambda owner: True, max_attempts=3)
  store.claim("verify", "leader", 60)
  assert to_follow(store, new, None, started) and not to_follow(store, new, "c1", started)  # once


def test_a_process_outside_its_slice_is_one_line_and_exit_2(postgres_url, tmp_path):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / layout.STORE_URL).write_text(postgres_url + "\n")
  PostgresStore(postgres_url).set_meta("config", _smoke_config())
  result = subprocess.run([sys.executable, "-m", "genesys_jax.evolve.worker", "--workdir", str(workdir)], cwd=ROOT,
                          env=_worker_env(_free_port(), 5), capture_output=True, text=True, timeout=300)
  assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
  assert "is not a process of the slice" in result.stderr


def test_a_place_in_the_slice_is_held_by_one_live_process(postgres_url, tmp_path):
  """A second start of the slice's workers (launch/tpu_vm.sh start, twice) is refused in one line while
  the first holds the place; the place of a process that died on this host is taken at once."""
  workdir, port = tmp_path / "run", _free_port()
  store = _run_with_one_job(postgres_url, workdir)
  place = f"slice:127.0.0.1:{port}:host1"  # the slice's default name is its coordinator's address
  me = owner_name("slice1")
  assert store.acquire_lease(place, me, 60, is_dead) is None  # this test's own process holds it
  worker = [sys.executable, "-m", "genesys_jax.evolve.worker", "--workdir", str(workdir)]
  refused = subprocess.run(worker, cwd=ROOT, env=_worker_env(port, 1), capture_output=True, text=True, timeout=300)
  assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
  assert f"process 1 of slice 127.0.0.1:{port} already runs" in refused.stderr

  gone = subprocess.Popen(["true"])
  gone.wait()
  store.release_lease(place, me)
  assert store.acquire_lease(place, f"{socket.gethostname()}:{gone.pid}:slice1:dead", 60, is_dead) is None
  log = tmp_path / "host1.log"
  follower = subprocess.Popen(worker, cwd=ROOT, env=_worker_env(port, 1), stdout=open(log, "w"),
                              stderr=subprocess.STDOUT)
  _wait_for(lambda: f":{follower.pid}:" in store.get_meta(place)["owner"], [follower], [log])
  store.set_meta("finished", True)
  assert follower.wait(timeout=_HANG_GUARD_S) == 0, log.read_text()[-2000:]
  assert store.get_meta(place) is None  # given up on the way out
