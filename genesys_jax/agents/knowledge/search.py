"""The knowledge engine: BM25 over bundled papers and library units, optionally followed by online results."""

from __future__ import annotations

from genesys_jax.agents.knowledge.bundled import bundled_papers, library_units
from genesys_jax.agents.knowledge.online import (ARXIV_URL, SEMANTIC_SCHOLAR_URL, search_arxiv,
                                                 search_semantic_scholar)
from genesys_jax.agents.knowledge.ranking import Bm25Index
from genesys_jax.agents.knowledge.records import Entry, Hit


class KnowledgeEngine:
  """Finds papers and library units relevant to a query, for agents designing new architectures."""

  def __init__(self, *, arxiv_url: str = ARXIV_URL, semantic_scholar_url: str = SEMANTIC_SCHOLAR_URL,
               timeout_s: float = 5.0):
    self.entries: tuple[Entry, ...] = bundled_papers() + library_units()
    self.arxiv_url, self.semantic_scholar_url, self.timeout_s = arxiv_url, semantic_scholar_url, timeout_s
    self._index = Bm25Index([e.id for e in self.entries], [e.text for e in self.entries])

  def search(self, query: str, k: int = 5, online: bool = False) -> list[Hit]:
    """The `k` best offline hits, best first; with `online`, then up to `k` new hits from each online source.

    Online hits (arXiv first, then Semantic Scholar) whose arXiv id is already among the results are dropped;
    a source that cannot be reached adds nothing.
    """
    if k < 1:
      raise ValueError(f"k must be at least 1, got {k}")
    hits = [self.entries[i].hit(score) for i, score in self._index.top(query, k)]
    if online:
      seen = {h.arxiv for h in hits if h.arxiv}
      for hit in (search_arxiv(query, k, self.arxiv_url, self.timeout_s)
                  + search_semantic_scholar(query, k, self.semantic_scholar_url, self.timeout_s)):
        if hit.arxiv in seen:
          continue
        hits.append(hit)
        if hit.arxiv:
          seen.add(hit.arxiv)
    return hits
