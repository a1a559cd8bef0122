"""`python -m genesys_jax.evolve.worker --workdir DIR [--store_url URL]`: a verifier process for the run in DIR.

The controller starts these itself (`evolve.workers.verifiers`); start more by hand to add devices to a
run. On a run whose store is SQLite (store.sqlite in DIR) they must share its host; on a run whose store
is on a PostgreSQL server (`evolve.store_url`), they may run on any host that reaches the server and sees
the run directory at DIR (a shared file system). The run's config is read from its store. On every host
of a multi-host slice (GENESYS_JAX_NUM_PROCESSES and GENESYS_JAX_PROCESS_ID, or Cloud TPU's worker
variables, with the coordinator JAX needs) the processes verify each job together (slice_verifier.py).
SIGTERM or SIGINT: the current verification checkpoints, its job goes back to the queue, exit 143 (on a
slice, every process of the slice stops so and exits 143).
"""

from __future__ import annotations

import ctypes
import os
import pathlib
import signal
from collections.abc import Sequence

import ml_collections
from absl import flags

from genesys_jax import cli
from genesys_jax.check.compilation_cache import use_compilation_cache
from genesys_jax.evolve import layout
from genesys_jax.evolve.leases import owner_name
from genesys_jax.evolve.slice_verifier import SlicePositionTaken, serve_slice, slice_position
from genesys_jax.evolve.sqlite_store import SQLiteStore
from genesys_jax.evolve.store import StoreError
from genesys_jax.evolve.store_location import check_store_url, has_store, open_store
from genesys_jax.verify.train import StopFlag

_WORKDIR = flags.DEFINE_string("workdir", None, "The run directory (on another host: its path on a shared file system).")
_STORE_URL = flags.DEFINE_string("store_url", "", "The run's PostgreSQL store (default: the one the run directory "
                                 "records in store.url, else its store.sqlite).")
_DIE_WITH_PARENT = flags.DEFINE_bool("die_with_parent", False, "Stop (as on SIGTERM) when the parent process dies.")
STOPPED_EXIT_CODE = 143
_PR_SET_PDEATHSIG = 1


def _stop_when_parent_dies() -> None:
  """Asks Linux for a SIGTERM when the parent (the controller) dies, however it dies."""
  parent = os.getppid()
  ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
  if os.getppid() != parent:  # it died before the request was in place
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: Sequence[str]) -> int:
  del argv
  if not _WORKDIR.value:
    raise cli.UsageProblem("--workdir is required")
  workdir = pathlib.Path(_WORKDIR.value)
  try:
    check_store_url(_STORE_URL.value)
  except ValueError as e:
    raise cli.UsageProblem(str(e)) from e
  if not has_store(workdir):
    raise cli.UsageProblem(f"{workdir} holds no evolution run (no {layout.STORE} or {layout.STORE_URL}); "
                           "start one with genesys_jax.main, or give the run directory's path on this host")
  try:
    store = open_store(workdir, _STORE_URL.value)
    config = store.get_meta("config")
  except StoreError as e:
    raise cli.UsageProblem(str(e)) from e
  if config is None:
    raise cli.UsageProblem(f"the store of the run in {workdir} holds no config; start the run with genesys_jax.main")
  try:
    position = slice_position()
  except ValueError as e:
    raise cli.UsageProblem(str(e)) from e
  if position.count > 1 and isinstance(store, SQLiteStore):
    raise cli.UsageProblem(f"the processes of a slice share their run's store through a PostgreSQL server, and the run "
                           f"in {workdir} keeps it in {layout.STORE}; start the run with --config.evolve.store_url")
  stop = StopFlag()
  signal.signal(signal.SIGTERM, stop.set)
  signal.signal(signal.SIGINT, stop.set)
  if _DIE_WITH_PARENT.value:
    _stop_when_parent_dies()
  use_compilation_cache()  # shared with the checker and the controller
  config = ml_collections.ConfigDict(config)
  role = "verifier" if position.count == 1 else f"slice{position.index}"
  try:
    stopped = serve_slice(store, workdir, config, owner_name(role), stop, position)
  except SlicePositionTaken as e:
    raise cli.UsageProblem(str(e)) from e
  return STOPPED_EXIT_CODE if stopped else 0


if __name__ == "__main__":
  cli.run(main)
