"""A smoke run's report in a headless Chromium: the rendered phylogeny has a node per design, the leaderboard
has its seed row, and every design link opens that design's page. The screenshot is kept as an artifact
(under $GENESYS_TEST_ARTIFACTS when set)."""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

from genesys_jax.report import write_report
from genesys_jax.report.readonly_store import ReadOnlyStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install -y chromium); "
                                "the headless-browser check of the report needs it")


@pytest.fixture(scope="module")
def smoke_report(smoke_run, tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
  """The suite's finished smoke run and its report, written anew outside the (shared) run directory."""
  workdir, _ = smoke_run
  return workdir, write_report(workdir, tmp_path_factory.mktemp("report") / "index.html")


def _chromium(profile: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
  return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--hide-scrollbars", f"--user-data-dir={profile}", "--virtual-time-budget=3000", *args],
                        capture_output=True, text=True, timeout=120)


def _dom(profile: pathlib.Path, page: pathlib.Path) -> str:
  result = _chromium(profile, "--dump-dom", page.resolve().as_uri())
  assert result.returncode == 0 and "</html>" in result.stdout, result.stderr[-2000:]
  return result.stdout


def test_the_rendered_report_shows_every_design_and_links_to_its_page(smoke_report, tmp_path):
  workdir, index = smoke_report
  store = ReadOnlyStore(workdir / "store.sqlite")
  names = {r.name for r in store.designs()}
  seeds = {r.name for r in store.designs() if r.seed}
  store.close()
  dom = _dom(tmp_path / "profile", index)
  nodes = re.findall(r'<a class="node[^"]*" data-design="([^"]+)"', dom)
  assert len(nodes) == len(names) and set(nodes) == names
  assert re.search(r'<table class="leaderboard[^"]*" id="leaderboard-micro1"', dom)
  for seed in seeds:
    assert re.search(rf'<tr class="seed" data-design="{re.escape(seed)}">', dom)
  links = set(re.findall(r'href="(designs/[^"#]+\.html)"', dom))
  assert len(links) == len(names)
  for link in sorted(links):
    page = index.parent / link
    assert page.is_file(), link
    name = re.search(r'<h1><span class="name">([^<]+)</span>', _dom(tmp_path / "profile", page)).group(1)
    assert name in names and link == f"designs/{name}.html"


def test_a_screenshot_of_the_report_is_kept(smoke_report, tmp_path_factory):
  _, index = smoke_report
  folder = pathlib.Path(os.environ.get("GENESYS_TEST_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
  folder.mkdir(parents=True, exist_ok=True)
  shot = folder / "report_index.png"
  result = _chromium(tmp_path_factory.mktemp("profile"), f"--screenshot={shot}", "--window-size=1400,2000",
                     index.resolve().as_uri())
  assert result.returncode == 0 and shot.is_file() and shot.stat().st_size > 20_000, result.stderr[-2000:]
  print(f"report screenshot: {shot}")
