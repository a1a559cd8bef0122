"""Online paper search: the arXiv API (Atom XML) and Semantic Scholar's graph API (JSON), standard library only.

Any failure (no network, a timeout, an HTTP error, a malformed answer) yields no hits and a debug log line.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from xml.etree import ElementTree

from absl import logging

from genesys_jax.agents.knowledge.records import Hit

ARXIV_URL = "http://export.arxiv.org/api/query"
SEMANTIC_SCHOLAR_URL = "https://api.semanticscholar.org/graph/v1/paper/search"
MAX_RESPONSE_BYTES = 4 << 20
_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV_ABS = re.compile(r"/abs/(.+?)(?:v\d+)?$")
_SKIPPED = (OSError, http.client.HTTPException, ValueError, ElementTree.ParseError)


def _get(base_url: str, params: dict[str, str], timeout_s: float, parse: Callable[[bytes], list[Hit]]) -> list[Hit]:
  url = f"{base_url}?{urllib.parse.urlencode(params)}"
  request = urllib.request.Request(url, headers={"User-Agent": "genesys_jax-knowledge"})
  try:
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
      return parse(response.read(MAX_RESPONSE_BYTES))
  except _SKIPPED as e:
    logging.debug("online search skipped: %s: %s", url, e)
    return []


def _clean(text: str | None) -> str:
  return " ".join((text or "").split())


def _year(text: str | None) -> int | None:
  return int(text[:4]) if text and text[:4].isdigit() else None


def parse_arxiv(body: bytes) -> list[Hit]:
  """Hits from an arXiv API Atom feed; entries whose id is not an arXiv abstract URL are left out."""
  hits = []
  for entry in ElementTree.fromstring(body).findall(f"{_ATOM}entry"):
    match = _ARXIV_ABS.search(_clean(entry.findtext(f"{_ATOM}id")))
    if match:
      hits.append(Hit(f"arxiv:{match.group(1)}", _clean(entry.findtext(f"{_ATOM}title")), match.group(1),
                      _year(entry.findtext(f"{_ATOM}published")), _clean(entry.findtext(f"{_ATOM}summary")), 0.0,
                      "arxiv"))
  return hits


def parse_semantic_scholar(body: bytes) -> list[Hit]:
  """Hits from a Semantic Scholar paper-search JSON answer (`{"data": [{"paperId", "title", ...}]}`)."""
  payload = json.loads(body)
  papers = payload.get("data") if isinstance(payload, dict) else None
  hits = []
  for paper in papers if isinstance(papers, list) else []:
    if not isinstance(paper, dict) or not paper.get("paperId"):
      continue
    ids = paper.get("externalIds") if isinstance(paper.get("externalIds"), dict) else {}
    year = paper.get("year")
    hits.append(Hit(f"s2:{paper['paperId']}", _clean(paper.get("title")), str(ids.get("ArXiv") or ""),
                    year if isinstance(year, int) else None, _clean(paper.get("abstract")), 0.0, "semantic_scholar"))
  return hits


def search_arxiv(query: str, k: int, base_url: str = ARXIV_URL, timeout_s: float = 5.0) -> list[Hit]:
  """Up to `k` arXiv papers matching `query`, by arXiv's relevance order; [] when unreachable."""
  params = {"search_query": f"all:{query}", "start": "0", "max_results": str(k), "sortBy": "relevance"}
  return _get(base_url, params, timeout_s, parse_arxiv)[:k]


def search_semantic_scholar(query: str, k: int, base_url: str = SEMANTIC_SCHOLAR_URL,
                            timeout_s: float = 5.0) -> list[Hit]:
  """Up to `k` Semantic Scholar papers matching `query`; [] when unreachable."""
  params = {"query": query, "limit": str(k), "fields": "title,abstract,year,externalIds"}
  return _get(base_url, params, timeout_s, parse_semantic_scholar)[:k]
