"""The hand-built run (see hand_built.py), written once per test module."""

import pytest

from genesys_jax.report.readonly_store import ReadOnlyStore
from genesys_jax.report.run_data import Run, load_run
from report.hand_built import build_run


@pytest.fixture(scope="module")
def hand_built(tmp_path_factory) -> tuple[Run, dict[str, int]]:
  workdir = tmp_path_factory.mktemp("run")
  ids = build_run(workdir)
  store = ReadOnlyStore(workdir / "store.sqlite")
  with store.snapshot():
    run = load_run(store, workdir)
  store.close()
  return run, ids
