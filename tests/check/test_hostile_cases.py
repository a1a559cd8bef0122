"""Every attack in hostile/cases/ is rejected and leaves no trace, under each isolation the sandbox offers.

Cases that static vetting rejects never run, so they are checked once; the others run in the sandbox in
every mode this machine has (bubblewrap, root namespaces without it, and nothing but the allow-listed
environment, interpreter, rlimits and subreaper), with a secret in the checker's environment.
"""

import hashlib
import os
import pathlib

import pytest

from genesys_jax.check import checker, vet
from genesys_jax.check.checker import check
from genesys_jax.check.compilation_cache import compilation_cache_dir
from genesys_jax.check.dynamic import CheckSettings
from genesys_jax.check.sandbox import Limits, bubblewrap_works

CASES = sorted((pathlib.Path(__file__).parent / "hostile" / "cases").glob("*.py"))
MARKER = "/tmp/genesys_marker_should_not_exist"
SECRET = "hostile-case-secret-0451"


def _runs(case: pathlib.Path) -> bool:
  """Whether the case passes static vetting (so it reaches the sandbox)."""
  return not vet.vet_source(case.read_text(), case.name)


def _params():
  for case in CASES:
    modes = ("bubblewrap", "namespaces", "none") if _runs(case) else ("vetting",)
    for mode in modes:
      yield pytest.param(case, mode, id=f"{case.stem}-{mode}")


def test_there_are_enough_cases_of_every_class():
  classes = {c.name.split("__")[0] for c in CASES}
  assert len(CASES) >= 40 and {"reexport", "alias", "reflection", "frames", "jaxio", "protocol", "escape",
                               "poison", "dormant"} <= classes


def _cache_state() -> str:
  digest = hashlib.sha256()
  for path in sorted(compilation_cache_dir().rglob("*")):
    if path.is_file():
      digest.update(f"{path}:{path.stat().st_size}:{path.stat().st_mtime_ns}".encode())
  return digest.hexdigest()


@pytest.mark.parametrize("case, mode", list(_params()))
def test_case_is_rejected_without_trace(case, mode, monkeypatch, tmp_path):
  if mode == "bubblewrap" and not bubblewrap_works():
    pytest.skip("bubblewrap is not usable on this machine")
  if mode == "namespaces" and os.geteuid() != 0:
    pytest.skip("namespaces without bubblewrap need root")
  if mode != "vetting":
    monkeypatch.setattr(checker, "isolation", lambda: mode)
  monkeypatch.setenv("GEMINI_API_KEY", SECRET)
  monkeypatch.setenv("GENESYS_JAX_CACHE", str(tmp_path / "cache"))  # this test's own, so no other writes it
  (compilation_cache_dir() / "jit_reference-entry-cache").write_bytes(b"trusted entry")
  before = _cache_state()
  report = check(case, settings=CheckSettings(train_steps=4), limits=Limits(timeout_s=90, allow_unisolated=True))
  assert not report.ok, f"{case.name} was accepted in mode {mode}"
  assert not os.path.exists(MARKER), f"{case.name} left {MARKER} in mode {mode}"
  assert _cache_state() == before, f"{case.name} changed the shared compilation cache in mode {mode}"
  failed = [c for c in report.checks if not c.ok and c.fatal]
  assert failed and SECRET not in failed[0].message
