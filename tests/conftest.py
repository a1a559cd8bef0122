"""Test setup: 8 fake CPU devices for sharding tests, compiled without LLVM optimizations; `slow` tests
run only with --runslow; one compilation cache (used by the tests' own programs as well) and one folder
of built-once fixtures (a finished smoke run, ...) for the whole suite, shared by every pytest-xdist
worker and the processes the tests start."""

import os

# Test programs are tiny and run a few steps, so compiling is most of the suite's time: LLVM's
# optimizations are off (XLA's graph passes still run; the processes tests start inherit this).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pathlib  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

from genesys_jax.check.compilation_cache import use_compilation_cache  # noqa: E402
from genesys_jax.check.sandbox import ALLOW_UNISOLATED_ENV, bubblewrap_works  # noqa: E402
from shared_fixtures import SHARED_ENV, smoke_run  # noqa: E402,F401  (a fixture for every test module)
from postgres_server import postgres_server, postgres_url  # noqa: E402,F401  (a throwaway PostgreSQL server)


def pytest_addoption(parser):
  parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


@pytest.hookimpl(optionalhook=True)  # only with pytest-xdist
def pytest_xdist_auto_num_workers(config) -> int:
  """`-n auto`: two workers more than cores. About a third of the suite's time is spent waiting on the
  processes tests start (interpreter and JAX start-up, sandboxes, sockets), when a core would sit idle
  (measured on 2 cores: 649 s with 2 workers, 617 s with 4)."""
  del config
  return len(os.sched_getaffinity(0)) + 2


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: takes long; skipped unless --runslow")
  if hasattr(config, "workerinput"):  # an xdist worker: the controller's environment is already inherited
    use_compilation_cache()
    return
  shared = pathlib.Path(tempfile.mkdtemp(prefix="genesys_jax_tests_"))
  config._genesys_shared = shared
  os.environ[SHARED_ENV] = str(shared)
  # the suite's own compilation cache (unless the caller names one): tests do not depend on what an
  # earlier run left in ~/.cache, and every process of this suite compiles a program only once
  os.environ.setdefault("GENESYS_JAX_CACHE", str(shared / "cache"))
  use_compilation_cache()  # the tests' own programs too: many tests compile the same seeds at the same sizes
  # where bubblewrap is missing, the tests still run agent-written test units (the hostile cases and the
  # checker's gate tests set the policy themselves)
  if not bubblewrap_works():
    os.environ.setdefault(ALLOW_UNISOLATED_ENV, "1")


def pytest_unconfigure(config):
  shared = getattr(config, "_genesys_shared", None)
  if shared is not None:
    shutil.rmtree(shared, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
  # the tests on the shared smoke run go first, so its build overlaps the rest rather than ending the suite
  items.sort(key=lambda item: "smoke_run" not in getattr(item, "fixturenames", ()))
  if config.getoption("--runslow"):
    return
  skip = pytest.mark.skip(reason="slow; run with --runslow")
  for item in items:
    if "slow" in item.keywords:
      item.add_marker(skip)

collect_ignore_glob = ["check/hostile/*"]  # hostile unit files are data: their @gau_test functions run only in the sandbox
