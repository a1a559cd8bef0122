"""`python -m genesys_jax.evolve.worker --workdir DIR`: a verifier process for the run in DIR.

The controller starts these itself (`evolve.workers.verifiers`); start more by hand on the same host to
add devices to a run (the SQLite store in WAL mode needs every process on one host; several hosts need
a store behind a database server, which the `EvolutionStore` interface leaves room for). The run's
config is read from its store.
SIGTERM or SIGINT: the current verification checkpoints, its job goes back to the queue, exit 143.
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
from genesys_jax.evolve import layout, verifier
from genesys_jax.evolve.leases import owner_name
from genesys_jax.evolve.store import SQLiteStore, StoreError
from genesys_jax.verify.train import StopFlag

_WORKDIR = flags.DEFINE_string("workdir", None, "The run directory (holds store.sqlite).")
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
  if not layout.store_path(workdir).is_file():
    raise cli.UsageProblem(f"{workdir} holds no evolution run (no {layout.STORE}); start one with genesys_jax.main")
  try:
    config = SQLiteStore(layout.store_path(workdir), create=False).get_meta("config")
  except StoreError as e:
    raise cli.UsageProblem(str(e)) from e
  stop = StopFlag()
  signal.signal(signal.SIGTERM, stop.set)
  signal.signal(signal.SIGINT, stop.set)
  if _DIE_WITH_PARENT.value:
    _stop_when_parent_dies()
  use_compilation_cache()  # shared with the checker and the controller
  verifier.serve(workdir, ml_collections.ConfigDict(config), owner_name("verifier"), stop)
  return STOPPED_EXIT_CODE if stop else 0


if __name__ == "__main__":
  cli.run(main)
