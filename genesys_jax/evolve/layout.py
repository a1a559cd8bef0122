"""Where things live in a run directory."""

from __future__ import annotations

import pathlib

from genesys_jax.gau.design import Design

STORE = "store.sqlite"
STORE_URL = "store.url"  # a run whose store is on a database server: its URL (store_location.py)
DESIGNS = "designs"     # one directory per design: design.json and its unit files
VERIFY = "verify"       # <design>-<hash>/<rung>/: results, history, checkpoints, TensorBoard logs
REPORT = "report"


def design_directory(design: Design) -> str:
  """A design's directory, relative to the run directory."""
  return f"{DESIGNS}/{design.name}-{design.content_hash()[:10]}"


def store_path(workdir: pathlib.Path) -> pathlib.Path:
  return workdir / STORE
