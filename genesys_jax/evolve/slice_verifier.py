"""The verifier process's loop: claim a verification job, verify it, record it. On a multi-host slice it
runs on every host, and the hosts verify each job together, as one JAX program over the slice's global
mesh; one host is the case of a slice of one process.

Process 0 (the leader) claims a job, renews its lease and records its result; it publishes what it is
verifying in the store (`slice:<name>`), and every other process (a follower) starts the same
verification when it sees it. Each process holds the lease of its place in the slice
(`slice:<name>:host<k>`), renewed every heartbeat, so a second process started in a place that a live
one holds is refused; the leader claims a job only while every follower's lease is fresh, and a
verification that fails while one goes stale lost a host, not the
design: its job goes back to the queue without counting an attempt (up to `max_attempts` times a job),
and the leader waits for the slice to be whole again. A follower joins only what the live leader
published after the follower started. The verifications' sandboxed children join each other with
`jax.distributed` and agree on every stop (`distributed.any_process`: SIGTERM on any host, the leader's
lost lease), so no host waits alone in a collective. A preempted verification stops the whole slice
(every process exits, the leader gives the job back or has lost it), and restarting the slice resumes it from its
checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time
import uuid

import ml_collections

from genesys_jax.distributed import NUM_PROCESSES_ENV, PROCESS_ID_ENV
from genesys_jax.evolve import layout
from genesys_jax.evolve.leases import Heartbeat, is_dead
from genesys_jax.evolve.store import EvolutionStore
from genesys_jax.evolve.verifier import StopOrLost, run_verify_job, verify_settings
from genesys_jax.gau.design import load_design
from genesys_jax.verify.confined import VerificationFailed, verify_confined
from genesys_jax.verify.train import StopFlag


SLICE_ENV = "GENESYS_JAX_SLICE"
"""The slice's name (the TPU's, as launch/tpu_vm.sh sets it); by default its coordinator's address."""


@dataclasses.dataclass(frozen=True)
class SlicePosition:
  index: int   # this process; 0 leads
  count: int   # processes in the slice
  name: str    # shared by the slice's processes (the store key they meet at)


def slice_position() -> SlicePosition:
  """Where this process is in its slice, from the environment: NUM_PROCESSES_ENV and PROCESS_ID_ENV (as
  launch/tpu_vm.sh sets them), else Cloud TPU's TPU_WORKER_HOSTNAMES and TPU_WORKER_ID; one process
  otherwise. ValueError (one sentence) for values that do not make a slice."""
  if os.environ.get(NUM_PROCESSES_ENV):
    count, index = os.environ[NUM_PROCESSES_ENV], os.environ.get(PROCESS_ID_ENV, "")
  else:
    hosts = [h for h in os.environ.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]
    count, index = str(len(hosts) or 1), os.environ.get("TPU_WORKER_ID", "0" if len(hosts) <= 1 else "")
  if not (count.isdigit() and index.isdigit() and int(index) < int(count)):
    raise ValueError(f"the slice position (process {index or '?'} of {count}) is not a process of the slice; set "
                     f"{PROCESS_ID_ENV} to 0..{NUM_PROCESSES_ENV}-1")
  name = (os.environ.get(SLICE_ENV) or os.environ.get("JAX_COORDINATOR_ADDRESS")
          or os.environ.get("TPU_WORKER_HOSTNAMES", "").split(",")[0])
  return SlicePosition(int(index), int(count), name or "slice")


def _key(position: SlicePosition) -> str:
  return f"slice:{position.name}"


def _member_key(position: SlicePosition, index: int) -> str:
  return f"slice:{position.name}:host{index}"


class SlicePositionTaken(Exception):
  """A process of the slice already runs in this process's place; one sentence."""


def _lease_s(w: ml_collections.ConfigDict) -> float:
  """How long a place in the slice stays held without a heartbeat (three beats; JAX's own heartbeat
  timeout, after which a slice's training gives up on a dead host, is longer)."""
  return 3 * w.heartbeat_s


def _followers(store: EvolutionStore, position: SlicePosition) -> dict[int, dict | None]:
  """Each follower's lease of its place ({"owner", "expires", "renewed"} in store time), None if none."""
  return {k: store.get_meta(_member_key(position, k)) for k in range(1, position.count)}


def _whole(store: EvolutionStore, position: SlicePosition) -> dict[int, str] | None:
  """The followers' process names when every follower holds its place (its lease has not expired)."""
  now, leases = store.now(), _followers(store, position)
  if all(l is not None and l["expires"] > now for l in leases.values()):
    return {k: l["owner"] for k, l in leases.items()}
  return None


def _host_lost(store: EvolutionStore, position: SlicePosition, members: dict[int, str], job_id: int,
               w: ml_collections.ConfigDict) -> bool:
  """After a failed verification: whether a follower it started with is gone (it does not renew its place
  within three heartbeats, or another process holds it), unless this job has lost a host `max_attempts`
  times already (a design that keeps killing hosts is then blamed like any failure)."""
  since, deadline = store.now(), time.monotonic() + _lease_s(w)
  losses = sum(1 for e in store.events("slice_host_lost") if e.get("job") == job_id)
  if losses >= w.max_attempts:
    return False
  while time.monotonic() < deadline:
    renewed = {k: l for k, l in _followers(store, position).items() if l is not None and l["renewed"] > since}
    if any(l["owner"] != members[k] for k, l in renewed.items()):
      return True  # a new process in a follower's place: the one the verification ran with died
    if len(renewed) == position.count - 1:
      return False
    time.sleep(min(1.0, w.heartbeat_s / 4))
  return True


def serve_slice(store: EvolutionStore, workdir: pathlib.Path, config: ml_collections.ConfigDict, owner: str,
                stop: StopFlag, position: SlicePosition, poll_s: float = 0.5) -> bool:
  """Verifies jobs (with the other processes of the slice, if any) until the run is finished, `stop` is set,
  or, on a slice of several processes, a verification was preempted (then every process of the slice
  returns) or this process lost its place; True unless the run finished. SlicePositionTaken when a live
  process holds this process's place."""
  if position.count == 1:
    _lead(store, workdir, config, owner, stop, position, poll_s)
    return not store.get_meta("finished")
  w, place = config.evolve.workers, _member_key(position, position.index)
  holder = store.acquire_lease(place, owner, _lease_s(w), is_dead)
  if holder is not None:
    raise SlicePositionTaken(f"process {position.index} of slice {position.name} already runs ({holder}); stop it "
                             f"first, or start this one {_lease_s(w):.0f} s after it stopped answering")
  try:
    with Heartbeat(lambda: store.acquire_lease(place, owner, _lease_s(w), is_dead) is None, w.heartbeat_s) as beat:
      if position.index == 0:
        _lead(store, workdir, config, owner, StopOrLost(stop, beat.lost), position, poll_s)
      else:
        _follow(store, workdir, config, StopOrLost(stop, beat.lost), position, poll_s)
  finally:
    store.release_lease(place, owner)
  return not store.get_meta("finished")


def _lead(store: EvolutionStore, workdir: pathlib.Path, config: ml_collections.ConfigDict, owner: str,
          stop: StopFlag, position: SlicePosition, poll_s: float) -> None:
  w, multi_host = config.evolve.workers, position.count > 1
  while not stop and not store.get_meta("finished"):
    members = _whole(store, position) if multi_host else {}
    if members is None:
      time.sleep(poll_s)  # a follower is not (yet, or no longer) there
      continue
    job = store.claim("verify", owner, w.lease_s)
    if job is None:
      time.sleep(poll_s)
      continue
    if multi_host:
      store.set_meta(_key(position), {"job": job.id, "claim": uuid.uuid4().hex, "leader": owner,
                                      "published": store.now(), **job.payload})
    outcome = run_verify_job(job, owner, store, workdir, config, stop, multi_host=multi_host,
                             hosts_alive=lambda: not _host_lost(store, position, members, job.id, w))
    if multi_host and outcome in ("released", "lost"):  # preempted: every host stopped at one step, the slice too
      return


def to_follow(store: EvolutionStore, assignment: dict | None, followed: str | None, started: float) -> bool:
  """Whether a follower that started at `started` (store time) and last followed the claim `followed`
  joins `assignment`: a claim it has not followed, published after it started, of a job still leased by
  the leader that published it (not one a dead leader left behind)."""
  return bool(assignment) and assignment["claim"] != followed and assignment["published"] >= started and (
      store.lease_holder(assignment["job"]) == assignment["leader"])


def _follow(store: EvolutionStore, workdir: pathlib.Path, config: ml_collections.ConfigDict, stop: StopFlag,
            position: SlicePosition, poll_s: float) -> None:
  followed, started = None, store.now()
  while not stop and not store.get_meta("finished"):
    assignment = store.get_meta(_key(position))
    if not to_follow(store, assignment, followed, started):
      time.sleep(poll_s)  # nothing new that the live leader began since this process started
      continue
    followed = assignment["claim"]
    row = next(r for r in store.designs() if r.id == assignment["design_id"])
    design = load_design(workdir / row.path)
    try:
      results = verify_confined(design, workdir / row.path, assignment["rung"], workdir / layout.VERIFY,
                                verify_settings(config, assignment["rung"]), lambda: bool(stop), visible=workdir,
                                multi_host=True)
    except VerificationFailed:
      continue  # the leader's side fails alike, and records it
    if results.get("status") == "preempted":
      return
