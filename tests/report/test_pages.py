"""The leaderboards, the design pages and writing the report: contents, links, and a store left untouched."""

import hashlib
import re

import pytest

from genesys_jax.evolve.store import StoreError
from genesys_jax.evolve.sqlite_store import SQLiteStore
from genesys_jax.report import write_report
from genesys_jax.report.design_page import design_page
from genesys_jax.report.leaderboard import leaderboard
from genesys_jax.report.readonly_store import ReadOnlyStore
from report.hand_built import build_run


def _rows(table: str) -> dict[str, str]:
  return dict(re.findall(r'<tr class="[^"]*" data-design="([^"]+)">(.*?)</tr>', table, re.S))


def test_leaderboard_ranks_by_bits_per_byte_against_the_best_seed_and_the_untrained_model(hand_built):
  run, _ = hand_built
  table = leaderboard(run, "micro1")
  rows = _rows(table)
  assert list(rows) == ["d1", "d2", "alpha", "d3", "beta", "d6"]  # the diverged run last
  assert 'class="seed" data-design="alpha"' in table and 'class="seed" data-design="beta"' in table
  assert "best seed</span>" in rows["alpha"] and '<span class="d good">−0.200 seed</span>' in rows["d1"]
  assert '<span class="d bad">+0.100 seed</span>' in rows["d3"]
  assert '<span class="r">−4.200 untrained</span>' in rows["d1"]
  assert "arc acc_norm" in table and "diag copy" in table and "+0.850 chance" in rows["d1"]
  assert "diverged" in rows["d6"] and "loss went to nan" in rows["d6"]
  assert "seed</span>" not in _rows(leaderboard(run, "micro3"))["d1"]  # no seed reached micro3
  assert leaderboard(run, "micro4") == ""


def test_a_design_page_shows_lineage_proposal_review_diffs_check_metrics_and_logs(hand_built):
  run, ids = hand_built
  page = design_page(run, ids["d2"])
  assert '<a class="design" href="alpha.html">alpha</a>' in page
  assert "Gated mean" in page and "gate the running mean" in page
  assert "<b>4</b>/5" in page and "a sound, cheap idea" in page and "try a wider gate" in page
  assert "new units [Mix] must have new names" in page  # the round sent back
  assert '<li class="changed"><span class="slot">mixer:</span> <span class="unit">Gate</span>' in page
  assert re.search(r"gate.py</code> \(Gate\) <span class=\"badge new\">new file", page)
  assert re.search(r"mix.py</code> \(Mix\) <span class=\"badge same\">unchanged", page)
  assert "verify/d2-h/micro1/tensorboard" in page and "tensorboard --logdir" in page
  assert "rank 2 of 5 verified designs" in page
  changed = design_page(run, ids["d1"])
  assert '<span class="add">+    y = x.cumsum(axis=1)</span>' in changed
  assert '<span class="del">-    return x.mean(axis=1)</span>' in changed
  assert "offline designer: no review" in changed
  crossed = design_page(run, ids["d3"])  # d1's tree with beta's Conv: each file against the parent it came from
  assert re.search(r"block.py</code> \(Block\) <span class=\"badge same\">unchanged</span> vs d1's", crossed)
  assert re.search(r"conv.py</code> \(Conv\) <span class=\"badge same\">unchanged</span> vs beta's", crossed)


def test_a_rejected_design_shows_its_failed_check_and_a_seed_has_no_session(hand_built):
  run, ids = hand_built
  rejected = design_page(run, ids["d4"])
  assert '<code>width=9</code> <span class="was">was the defaults</span>' in rejected  # beta's Conv had none
  assert "time is too slow" in rejected and 'badge rejected' in rejected and "<b>time</b>" in rejected
  assert "not verified" in rejected and "no training logs yet" in rejected
  seed = design_page(run, ids["alpha"])
  assert "seed design: no design session" in seed and "micro2" in seed


def test_write_report_writes_every_page_and_never_writes_the_store(tmp_path):
  ids = build_run(tmp_path)
  store_file = tmp_path / "store.sqlite"
  before = hashlib.sha256(store_file.read_bytes()).hexdigest()
  index = write_report(tmp_path)
  assert index == tmp_path / "report" / "index.html"
  text = index.read_text()
  links = set(re.findall(r'href="(designs/[^"]+)"', text))
  assert links == {f"designs/{name}.html" for name in ids}
  for link in links:
    assert (index.parent / link).is_file()
  assert "<script src" not in text and "<link" not in text and "http" not in text.replace(
      'xmlns="http://www.w3.org/2000/svg"', "")
  assert hashlib.sha256(store_file.read_bytes()).hexdigest() == before
  elsewhere = write_report(tmp_path, tmp_path / "out" / "run.html")
  assert elsewhere.is_file() and '<a href="../run.html">' in (tmp_path / "out" / "designs" / "d1.html").read_text()


def test_the_read_only_store_refuses_writes_and_bad_files(tmp_path):
  build_run(tmp_path)
  store = ReadOnlyStore(tmp_path / "store.sqlite")
  assert len(store.designs()) == 8
  with pytest.raises(Exception, match="readonly"):
    store.log_event("nope")
  (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
  with pytest.raises(StoreError, match="not a readable evolution store"):
    ReadOnlyStore(tmp_path / "junk.sqlite")
  with pytest.raises(StoreError, match="no evolution store"):
    ReadOnlyStore(tmp_path / "missing.sqlite")


def test_a_run_that_has_just_started_gets_a_report_too(tmp_path):
  SQLiteStore(tmp_path / "store.sqlite").close()
  text = write_report(tmp_path).read_text()
  assert "no designs yet" in text and "nothing verified yet" in text and 'class="node' not in text
