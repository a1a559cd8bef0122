"""Writing the whole report of a run: index.html and a page per design under designs/."""

from __future__ import annotations

import pathlib

from genesys_jax.evolve import layout
from genesys_jax.files import write_text_atomic
from genesys_jax.report.design_page import design_page
from genesys_jax.report.html import slug
from genesys_jax.report.index_page import index_page
from genesys_jax.report.readonly_store import open_read_only
from genesys_jax.report.run_data import load_run

INDEX = "index.html"


def default_out(workdir: pathlib.Path) -> pathlib.Path:
  return workdir / layout.REPORT / INDEX


def _write_if_changed(path: pathlib.Path, text: str) -> None:
  if not path.is_file() or path.read_text() != text:
    write_text_atomic(path, text)


def write_report(workdir: pathlib.Path, out: pathlib.Path | None = None) -> pathlib.Path:
  """Writes the report of the run in `workdir` to `out` (default <workdir>/report/index.html) and its design
  pages beside it; returns `out`. Safe while the run goes on: the store is opened read-only and every page is
  replaced atomically. Raises StoreError when the store is missing or unreadable."""
  workdir = pathlib.Path(workdir)
  store = open_read_only(workdir)
  try:
    with store.snapshot():
      run = load_run(store, workdir)
  finally:
    store.close()
  out = pathlib.Path(out) if out is not None else default_out(workdir)
  designs = out.parent / "designs"
  designs.mkdir(parents=True, exist_ok=True)
  for row in run.rows:
    _write_if_changed(designs / f"{slug(row.name)}.html", design_page(run, row.id, out.name))
  write_text_atomic(out, index_page(run))
  return out
