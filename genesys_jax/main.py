"""The main job: `python -m genesys_jax.main --config configs/default.py --workdir DIR`.

Everything of a run lives under DIR; running the same command again resumes. Until the evolution loop
exists this verifies the seed designs (see `seed_report`).
"""

import pathlib
from collections.abc import Sequence

from absl import flags
from ml_collections import config_flags

from genesys_jax import cli, seed_report

_CONFIG = config_flags.DEFINE_config_file("config", None, "Run config file, e.g. configs/default.py:smoke.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory holding everything of the run.")


def main(argv: Sequence[str]) -> int:
  del argv
  config = cli.load_config(_CONFIG)
  if not _WORKDIR.value:
    raise cli.UsageProblem("--workdir is required, e.g. --workdir runs/default")
  workdir = pathlib.Path(_WORKDIR.value)
  if workdir.exists() and not workdir.is_dir():
    raise cli.UsageProblem(f"--workdir {workdir} exists and is not a directory")
  records = seed_report.run(config, workdir)
  print("\nparameters after auto-sizing (params, width x layers, ratio to the GPT reference):")
  print(seed_report.size_table(records))
  failed = [r["seed"] for r in records if not r["ok"]]
  print(f"\n{len(records) - len(failed)}/{len(records)} seeds verified" + (f"; failed: {failed}" if failed else ""))
  return 1 if failed else 0


if __name__ == "__main__":
  cli.run(main)
