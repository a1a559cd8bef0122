"""The knowledge engine: bundled papers, library units, BM25 ranking, and online search against loopback fakes."""

from __future__ import annotations

import dataclasses
import http.server
import importlib.resources
import json
import re
import socket
import threading
import time
import urllib.parse

import pytest

from genesys_jax.agents.knowledge.bundled import PAPER_FIELDS, bundled_papers, library_units
from genesys_jax.agents.knowledge.ranking import Bm25Index, tokens
from genesys_jax.agents.knowledge.records import SOURCES, Hit
from genesys_jax.agents.knowledge.search import KnowledgeEngine
from genesys_jax.units.library import UNIT_FILES

REQUIRED = ("transformer", "rope", "glu-variants", "linformer", "performer", "linear-transformer", "retnet", "rwkv4",
            "eagle-finch", "rwkv7", "mamba", "mamba2", "gla", "deltanet", "gated-deltanet", "hyena", "h3", "s4", "ttt",
            "xlstm", "based", "griffin", "mega", "primer", "alibi", "mqa", "gqa", "mla", "switch", "gshard",
            "mixture-of-depths", "diff-transformer", "rmsnorm", "flashattention", "longformer")


@pytest.fixture(scope="module")
def engine() -> KnowledgeEngine:
  return KnowledgeEngine()


def test_bundled_library_has_enough_complete_papers():
  papers = bundled_papers()
  assert len(papers) >= 34
  assert len({p.id for p in papers}) == len(papers)
  assert not set(REQUIRED) - {p.id for p in papers}
  for p in papers:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", p.id), p.id
    assert p.title and p.tags and all(p.tags) and p.source == "papers", p.id
    assert 2015 <= p.year <= 2026, p.id
    assert 4 <= len(re.split(r"(?<=[.!?])\s+", p.summary.strip())) <= 8, p.id


def test_every_json_line_has_exactly_the_paper_fields():
  path = importlib.resources.files("genesys_jax.agents.knowledge").joinpath("papers.jsonl")
  rows = [json.loads(line) for line in path.read_text().splitlines()]
  assert all(tuple(sorted(r)) == tuple(sorted(PAPER_FIELDS)) for r in rows)


def test_arxiv_ids_are_well_formed_unique_and_agree_with_the_year():
  ids = [p.arxiv for p in bundled_papers() if p.arxiv]
  assert len(set(ids)) == len(ids)
  for p in bundled_papers():
    if p.arxiv:
      assert re.fullmatch(r"\d{4}\.\d{4,5}", p.arxiv), p.id
      yymm, number = p.arxiv.split(".")
      assert len(number) == (5 if int(yymm) >= 1501 else 4), p.id  # arXiv moved to 5 digits in January 2015
      assert 0 <= 2000 + int(yymm[:2]) - p.year <= 1, p.id  # a late-December submission gets next year's id


@pytest.mark.parametrize("query, expected, within", [
    ("selective state space", "mamba", 1),
    ("delta rule", "deltanet", 3),
    ("rotary position", "rope", 3),
    ("grouped query attention", "gqa", 1),
    ("test-time training", "ttt", 3),
    ("data-dependent decay", "eagle-finch", 3),
    ("structured state space duality", "mamba2", 1),
    ("sliding window attention", "longformer", 3),
    ("exponential moving average", "mega", 1),
    ("random feature attention", "performer", 1),
    ("expert routing load balancing", "switch", 3),
])
def test_queries_find_the_expected_paper(engine, query, expected, within):
  assert expected in [h.id for h in engine.search(query, k=within)]


@pytest.mark.parametrize("query, unit", [("retention", "MultiScaleRetention"), ("token shift", "RWKV6TimeMix"),
                                         ("SwiGLU feed-forward", "GatedMLP")])
def test_queries_find_library_units(engine, query, unit):
  hit = next(h for h in engine.search(query, k=3) if h.id == unit)
  assert hit.source == "library" and hit.arxiv == "" and hit.year is None


def test_every_library_unit_is_indexed_from_its_docstrings(engine):
  units = library_units()
  assert [u.id for u in units] == list(UNIT_FILES)
  for unit in units:
    assert unit.summary and unit.source == "library"
    assert unit.id in [h.id for h in engine.search(unit.id, k=3)], unit.id


def test_hits_are_frozen_sorted_and_repeatable(engine):
  hits = engine.search("linear attention with decay", k=8)
  assert len(hits) == 8 and all(h.source in SOURCES for h in hits)
  assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
  assert hits == KnowledgeEngine().search("linear attention with decay", k=8)
  with pytest.raises(dataclasses.FrozenInstanceError):
    hits[0].score = 0.0


def test_ties_are_broken_by_id():
  index = Bm25Index(["b", "c", "a"], ["gated decay", "unrelated words", "gated decay"])
  ranked = index.top("decay", k=3)
  assert [i for i, _ in ranked] == [2, 0] and ranked[0][1] == ranked[1][1]


def test_tokens_drop_punctuation_case_stopwords_and_plurals():
  assert tokens("The state-spaces of RWKV-7!") == ["state", "space", "rwkv", "7"]
  assert tokens("MultiScaleRetention") == ["multiscaleretention", "multi", "scale", "retention"]


def test_unknown_words_give_no_hits_and_k_must_be_positive(engine):
  assert engine.search("zzqx plover", k=5) == []
  with pytest.raises(ValueError):
    engine.search("mamba", k=0)


ARXIV_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>arXiv Query</title>
  <entry>
    <id>http://arxiv.org/abs/2312.00752v2</id>
    <published>2023-12-01T18:01:34Z</published>
    <title>Mamba: Linear-Time Sequence Modeling with
      Selective State Spaces</title>
    <summary>  Foundation models ... </summary>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/2501.99999v1</id>
    <published>2025-01-02T00:00:00Z</published>
    <title>A Fake Selective Model</title>
    <summary>Fake abstract.</summary>
  </entry>
</feed>"""

SEMANTIC_SCHOLAR_JSON = {"total": 3, "offset": 0, "data": [
    {"paperId": "s2a", "title": "Same fake model", "abstract": None, "year": 2025,
     "externalIds": {"ArXiv": "2501.99999", "DBLP": "x"}},
    {"paperId": "s2b", "title": "A journal-only paper", "abstract": "No preprint.", "year": 2020,
     "externalIds": {"DOI": "10.1/x"}},
    {"paperId": "s2c", "title": "Another preprint", "abstract": "Abstract.", "year": None,
     "externalIds": {"ArXiv": "2502.00001"}},
]}


class _Server(http.server.ThreadingHTTPServer):
  daemon_threads = True
  block_on_close = False


@pytest.fixture
def fake_server():
  """Starts loopback HTTP servers answering every GET with (status, body, delay); yields their URL and requests."""
  servers, requests = [], []

  def start(status: int, body: bytes, delay_s: float = 0.0) -> str:
    class Handler(http.server.BaseHTTPRequestHandler):
      def do_GET(self):  # noqa: N802 (the name http.server calls)
        requests.append(urllib.parse.urlsplit(self.path))
        time.sleep(delay_s)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

      def log_message(self, *args):
        pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    servers.append(server)
    return f"http://127.0.0.1:{server.server_address[1]}/api"

  yield start, requests
  for server in servers:
    server.shutdown()
    server.server_close()


def _unused_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_online_results_follow_offline_ones_deduplicated_by_arxiv_id(fake_server):
  start, requests = fake_server
  engine = KnowledgeEngine(arxiv_url=start(200, ARXIV_FEED.encode()),
                           semantic_scholar_url=start(200, json.dumps(SEMANTIC_SCHOLAR_JSON).encode()))
  offline = engine.search("selective state space", k=3)
  hits = engine.search("selective state space", k=3, online=True)
  assert hits[:3] == offline and "mamba" in [h.id for h in offline]
  assert [(h.id, h.source, h.arxiv, h.year) for h in hits[3:]] == [
      ("arxiv:2501.99999", "arxiv", "2501.99999", 2025),
      ("s2:s2b", "semantic_scholar", "", 2020),
      ("s2:s2c", "semantic_scholar", "2502.00001", None),
  ]
  assert hits[3].title == "A Fake Selective Model" and hits[3].score == 0.0
  queries = [urllib.parse.parse_qs(r.query) for r in requests]
  assert queries[0]["search_query"] == ["all:selective state space"] and queries[0]["max_results"] == ["3"]
  assert queries[1]["query"] == ["selective state space"] and queries[1]["limit"] == ["3"]


def test_arxiv_titles_and_ids_are_cleaned(fake_server):
  start, _ = fake_server
  engine = KnowledgeEngine(arxiv_url=start(200, ARXIV_FEED.encode()), semantic_scholar_url=start(200, b"{}"))
  hits = engine.search("zzqx", k=2, online=True)
  assert [h.id for h in hits] == ["arxiv:2312.00752", "arxiv:2501.99999"]
  assert hits[0].title == "Mamba: Linear-Time Sequence Modeling with Selective State Spaces"
  assert hits[0].summary == "Foundation models ..." and hits[0].year == 2023


@pytest.mark.parametrize("failure", ["http 500", "connection refused", "timeout", "malformed"])
def test_unreachable_online_sources_are_skipped_silently(fake_server, failure):
  start, _ = fake_server
  if failure == "http 500":
    urls = [start(500, b"oops"), start(500, b"oops")]
  elif failure == "connection refused":
    urls = [f"http://127.0.0.1:{_unused_port()}/api" for _ in range(2)]
  elif failure == "timeout":
    urls = [start(200, ARXIV_FEED.encode(), delay_s=1.0) for _ in range(2)]
  else:
    urls = [start(200, b"<feed><entry>"), start(200, b"{not json")]
  engine = KnowledgeEngine(arxiv_url=urls[0], semantic_scholar_url=urls[1], timeout_s=0.2)
  assert engine.search("delta rule", k=4, online=True) == engine.search("delta rule", k=4)


def test_hit_fields_match_the_documented_api():
  assert [f.name for f in dataclasses.fields(Hit)] == ["id", "title", "arxiv", "year", "summary", "score", "source"]
