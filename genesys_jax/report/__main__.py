"""`python -m genesys_jax.report --workdir DIR [--out PATH]`: the HTML report of the run in DIR.

Writes DIR/report/index.html (or PATH) and a page per design beside it; the pages open from disk with
no server and no network. It only reads the run, so it may be run while the run goes on.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

from absl import flags

from genesys_jax import cli
from genesys_jax.evolve import layout
from genesys_jax.evolve.store import StoreError
from genesys_jax.evolve.store_location import has_store
from genesys_jax.report.site import write_report

_WORKDIR = flags.DEFINE_string("workdir", None, "The run directory.")
_OUT = flags.DEFINE_string("out", None, "Where to write the report's index page (default DIR/report/index.html).")


def main(argv: Sequence[str]) -> int:
  del argv
  if not _WORKDIR.value:
    raise cli.UsageProblem("--workdir is required, e.g. --workdir runs/default")
  workdir = pathlib.Path(_WORKDIR.value)
  if not workdir.is_dir():
    raise cli.UsageProblem(f"--workdir {workdir} is not a directory")
  if not has_store(workdir):
    raise cli.UsageProblem(f"{workdir} holds no evolution run (no {layout.STORE} or {layout.STORE_URL}); "
                           "start one with genesys_jax.main")
  out = pathlib.Path(_OUT.value) if _OUT.value else None
  if out is not None and out.is_dir():
    raise cli.UsageProblem(f"--out {out} is a directory; give the path of the index page, e.g. {out / 'index.html'}")
  try:
    path = write_report(workdir, out)
  except StoreError as e:
    raise cli.UsageProblem(str(e)) from e
  print(f"report: {path}")
  return 0


if __name__ == "__main__":
  cli.run(main)
