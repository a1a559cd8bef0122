"""A verifier: a process that claims verification jobs from the store, trains and evaluates each
design at its rung on the devices this process owns, and records the results with the job's close.
The training itself runs in the sandbox (`verify.confined`): this process never imports design code.

A job's lease is renewed by a heartbeat while it trains; when the process is stopped (SIGTERM, SIGINT)
the verification checkpoints and the job goes back to the queue; when it is killed, the lease expires
(or the controller sees the process is gone) and the next verifier resumes from the checkpoint.
"""

from __future__ import annotations

import pathlib
import time
import traceback
from collections.abc import Callable

import ml_collections

from genesys_jax.evolve import layout
from genesys_jax.evolve.leases import Heartbeat
from genesys_jax.evolve.store_rows import Job
from genesys_jax.evolve.store import EvolutionStore
from genesys_jax.gau.design import load_design
from genesys_jax.verify.confined import VerificationFailed, verify_confined
from genesys_jax.verify.run import run_directory
from genesys_jax.verify.train import StopFlag


def verify_settings(config: ml_collections.ConfigDict, rung: str) -> ml_collections.ConfigDict:
  """The `verify` section for `rung`: rung-0 diagnostics run only at the run's lowest rung."""
  c = ml_collections.ConfigDict(config.verify.to_dict())
  c.diagnostics.enabled = bool(config.verify.diagnostics.enabled and rung == config.evolve.rungs[0])
  return c


def run_verify_job(job: Job, owner: str, store: EvolutionStore, workdir: pathlib.Path,
                   config: ml_collections.ConfigDict, stop: StopFlag, multi_host: bool = False,
                   hosts_alive: Callable[[], bool] = lambda: True) -> str:
  """Verifies the job's design at its rung; returns the outcome ('recorded', 'released', 'lost', 'failed',
  'host_lost'). `multi_host`: the verification is one process of a slice's (slice_verifier.py); when it
  fails while `hosts_alive()` is False, a host died, not the design: the job goes back unblamed."""
  w = config.evolve.workers
  design_id, rung = job.payload["design_id"], job.payload["rung"]
  row = next(r for r in store.designs() if r.id == design_id)
  started = time.perf_counter()
  with Heartbeat(lambda: store.renew(job.id, owner, w.lease_s), w.heartbeat_s) as heartbeat:
    lost_or_stopped = StopOrLost(stop, heartbeat.lost)
    try:
      design = load_design(workdir / row.path)  # reads text: the design's code runs only in the sandbox
      results = verify_confined(design, workdir / row.path, rung, workdir / layout.VERIFY,
                                verify_settings(config, rung), lambda: bool(lost_or_stopped), visible=workdir,
                                multi_host=multi_host)
    except Exception as e:  # a design that crashes in training is a result, after max_attempts tries
      message = str(e) if isinstance(e, VerificationFailed) else f"{type(e).__name__}: {e}"
      if not hosts_alive():
        store.release(job.id, owner)
        store.log_event("slice_host_lost", job=job.id, error=message[:500])
        return "host_lost"
      if job.attempts < w.max_attempts:
        store.fail(job.id, owner, message + "\n" + traceback.format_exc(limit=5), w.max_attempts)
        return "failed"
      results = {"status": "error", "message": message}
      design = None
  if heartbeat.lost.is_set():
    return "lost"
  if results.get("status") == "preempted":
    store.release(job.id, owner)
    return "released"
  run_dir = (run_directory(layout.VERIFY, design, rung) if design is not None else "")
  recorded = store.finish_verify_job(job, owner, design_id, rung, results["status"], results, str(run_dir),
                                     time.perf_counter() - started)
  return "recorded" if recorded else "lost"


class StopOrLost(StopFlag):
  """A stop flag that is set when the process is asked to stop or the job's lease was lost."""

  def __init__(self, stop: StopFlag, lost):
    super().__init__()
    self._stop, self._lost = stop, lost

  def __bool__(self) -> bool:
    return bool(self._stop) or self._lost.is_set()

