"""The main job: `python -m genesys_jax.main --config configs/default.py --workdir DIR`.

Runs the evolution (seeds, design sessions, checks, verification up the ladder of scales) with
everything of the run under DIR; the same command resumes after a stop, a crash or `kill -9`.
Ctrl-C (SIGINT) or SIGTERM stops cleanly: running verifications checkpoint, exit code 130.
"""

from __future__ import annotations

import json
import pathlib
import signal
import sys
from collections.abc import Sequence

import jax
from absl import flags
from ml_collections import config_flags

from genesys_jax import cli
from genesys_jax.agents.llm.costs import Ledger
from genesys_jax.agents.llm.factory import make_client
from genesys_jax.agents.settings import budget_cap
from genesys_jax.check.compilation_cache import use_compilation_cache
from genesys_jax.check.sandbox import describe_isolation, isolation
from genesys_jax.evolve.leases import is_dead
from genesys_jax.evolve.progress import summary
from genesys_jax.report import write_report
from genesys_jax.evolve.run_config import config_differences
from genesys_jax.evolve.settings import validate_run
from genesys_jax.evolve.store import RUN_LEASE, EvolutionStore, StoreError
from genesys_jax.evolve.store_location import open_store, record_store_url

_CONFIG = config_flags.DEFINE_config_file("config", None, "Run config file, e.g. configs/default.py:smoke.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory holding everything of the run.")
_ALLOW_CHANGE = flags.DEFINE_bool("allow_config_change", False,
                                  "Continue a run in --workdir even though its recorded config differs.")
STOPPED_EXIT_CODE = 130


def _open_store(workdir: pathlib.Path, config) -> EvolutionStore:
  try:
    store = open_store(workdir, config.evolve.store_url, create=True)
  except StoreError as e:
    raise cli.UsageProblem(str(e)) from e
  current = json.loads(json.dumps(config.to_dict()))
  recorded = store.get_meta("config")
  if recorded is None:
    store.set_meta("config", current)
    recorded = current
  differences = config_differences(recorded, current)
  if differences and not _ALLOW_CHANGE.value:
    raise cli.UsageProblem(f"{workdir} belongs to a run with a different config ({'; '.join(differences[:3])}"
                           f"{'; ...' if len(differences) > 3 else ''}); use another --workdir, or pass "
                           "--allow_config_change to continue this run with the new config")
  if differences:
    store.set_meta("config", current)
    store.log_event("config_changed", differences=differences)
  record_store_url(workdir, config.evolve.store_url)  # the run's config is in its store
  return store


def main(argv: Sequence[str]) -> int:
  del argv
  # This process (controller and designer threads) computes on the CPU only: seed fingerprints and sizing.
  # The accelerators belong to the verifier processes it starts; a TPU opened here would lock them out.
  jax.config.update("jax_platforms", "cpu")
  config = cli.load_config(_CONFIG)
  if not _WORKDIR.value:
    raise cli.UsageProblem("--workdir is required, e.g. --workdir runs/default")
  workdir = pathlib.Path(_WORKDIR.value)
  if workdir.exists() and not workdir.is_dir():
    raise cli.UsageProblem(f"--workdir {workdir} exists and is not a directory")
  try:
    validate_run(config)
    if config.agents.designer != "offline":  # a missing API key or unpriced model fails here, before any work
      make_client(config.agents.llm, Ledger(), budget_cap(config.agents))
  except ValueError as e:
    raise cli.UsageProblem(str(e)) from e
  # Imported once the input is known to be good: the controller loads Orbax and the verification engine,
  # seconds that a mistyped flag should not wait for.
  from genesys_jax.evolve.controller import Controller  # pylint: disable=import-outside-toplevel
  use_compilation_cache()  # the seeds' fingerprints compile once across runs
  store = _open_store(workdir, config)  # makes the run directory
  controller = Controller(workdir, config, store)
  holder = store.acquire_lease(RUN_LEASE, controller.owner, config.evolve.workers.lease_s, is_dead)
  if holder is not None:
    raise cli.UsageProblem(f"the run in {workdir} is being driven by {holder}; wait for it to end or stop it, "
                           f"or add verifiers with `python -m genesys_jax.evolve.worker --workdir {workdir}`")
  store.set_meta("finished", False)
  print(describe_isolation(), flush=True)
  store.log_event("sandbox", isolation=isolation())
  for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda *_: controller.stop.set())
  finished = controller.run()
  report = write_report(workdir)
  if controller.failure:
    print(f"error: {controller.failure}", file=sys.stderr)
    return 1
  if not finished:
    print(f"stopped; run the same command to continue (report so far: {report})")
    return STOPPED_EXIT_CODE
  print(summary(controller.snapshot(), controller.budget, config.evolve, str(report)))
  return 0


if __name__ == "__main__":
  cli.run(main)
