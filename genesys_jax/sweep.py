"""`python -m genesys_jax.sweep --config configs/default.py --workdir DIR`: a config's sweep, run by run.

Expands the config file's `get_sweep(arg)` (genesys_jax/sweeps.py), checks every entry, then runs the
main job once per entry, one after another, each in DIR/<job name> with the entry's `--config.*` flags
(and any `--config.*` given here). Rerunning skips finished runs and resumes the others. `--dry_run`
prints the commands; `--only N` runs entry N alone; `--print_json` prints the expanded sweep (for
launch/xm_launch.py). Exit 0: every run finished; 1: some run failed; 130: stopped (Ctrl-C); 2: bad input.
"""

from __future__ import annotations

import json
import pathlib
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence

from absl import flags
from ml_collections import config_flags

from genesys_jax import cli, sweeps
from genesys_jax.evolve.run_config import config_differences
from genesys_jax.evolve.store import StoreError
from genesys_jax.evolve.store_location import has_store, open_store

_CONFIG = config_flags.DEFINE_config_file("config", None, "Run config file with a get_sweep, e.g. configs/default.py.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Sweep directory: each run goes to WORKDIR/<job name>.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Print the command of every run instead of running it.")
_ONLY = flags.DEFINE_integer("only", None, "Run only the sweep entry with this index (0-based, as --dry_run lists).")
_PRINT_JSON = flags.DEFINE_bool("print_json", False, "Print the expanded sweep as JSON and exit.")
STOPPED_EXIT_CODE = 130


def is_finished(workdir: pathlib.Path, job: sweeps.SweepJob) -> bool:
  """True when the run in `workdir` finished under the job's config (a changed config runs again, and the
  main job then says why it refuses)."""
  if not has_store(workdir):
    return False
  try:
    store = open_store(workdir)
    finished, recorded = store.get_meta("finished"), store.get_meta("config")
  except StoreError:
    return False
  current = json.loads(json.dumps(job.config.to_dict()))
  return finished is True and recorded is not None and not config_differences(recorded, current)


def command(spec: str, workdir: pathlib.Path, job: sweeps.SweepJob) -> list[str]:
  """The main job's command line for one run of the sweep."""
  return [sys.executable, "-m", "genesys_jax.main", "--config", spec, "--workdir", str(workdir / job.name),
          *job.flags]


def _run(cmd: list[str], stop: list[int]) -> int:
  """Runs a command; SIGINT and SIGTERM are passed on to it (it stops cleanly) and end the sweep after it."""
  child = subprocess.Popen(cmd)

  def forward(signum: int, _frame) -> None:
    stop.append(signum)
    child.send_signal(signum)

  previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
  try:
    return child.wait()
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)


def main(argv: Sequence[str]) -> int:
  del argv
  config = cli.load_config(_CONFIG)
  spec = config_flags.get_config_filename(flags.FLAGS["config"])
  try:
    jobs = sweeps.expand(spec, config, sweeps.base_flags(config, flags.FLAGS["config"].override_values))
  except ValueError as e:
    raise cli.UsageProblem(str(e)) from e
  if _PRINT_JSON.value:
    print(json.dumps(sweeps.to_json(spec, jobs), indent=1))
    return 0
  if not _WORKDIR.value:
    raise cli.UsageProblem("--workdir is required, e.g. --workdir runs/sweep")
  if _ONLY.value is not None:
    if not 0 <= _ONLY.value < len(jobs):
      raise cli.UsageProblem(f"--only {_ONLY.value} is not an entry of this sweep of {len(jobs)} "
                             f"(0 to {len(jobs) - 1})")
    jobs = [jobs[_ONLY.value]]
  workdir = pathlib.Path(_WORKDIR.value)
  if workdir.exists() and not workdir.is_dir():
    raise cli.UsageProblem(f"--workdir {workdir} exists and is not a directory")
  print(f"# sweep of {spec}: {len(jobs)} run(s) under {workdir}", flush=True)
  failed, stop = [], []
  for job in jobs:
    if is_finished(workdir / job.name, job):
      print(f"# [{job.index}] {job.name}: finished, skipped", flush=True)
      continue
    cmd = command(spec, workdir, job)
    print(f"# [{job.index}] {job.name}\n{shlex.join(cmd)}", flush=True)
    if _DRY_RUN.value:
      continue
    code = _run(cmd, stop)
    if stop or code == STOPPED_EXIT_CODE:
      print("sweep stopped; run the same command to continue", flush=True)
      return STOPPED_EXIT_CODE
    if code != 0:
      failed.append(f"[{job.index}] {job.name} (exit {code})")
  if _DRY_RUN.value:
    return 0
  if failed:
    print(f"sweep done; {len(failed)} of {len(jobs)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1
  print(f"sweep done: {len(jobs)} run(s) finished under {workdir}")
  return 0


if __name__ == "__main__":
  cli.run(main)
