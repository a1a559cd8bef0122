"""The records of the knowledge engine: what it indexes (`Entry`) and what a search returns (`Hit`)."""

from __future__ import annotations

import dataclasses

SOURCES = ("library", "papers", "arxiv", "semantic_scholar")


@dataclasses.dataclass(frozen=True)
class Hit:
  """One search result; `score` is the BM25 score for offline hits and 0 for online ones."""

  id: str
  title: str
  arxiv: str
  year: int | None
  summary: str
  score: float
  source: str


@dataclasses.dataclass(frozen=True)
class Entry:
  """One indexed document: a bundled paper or a library unit."""

  id: str
  title: str
  arxiv: str
  year: int | None
  tags: tuple[str, ...]
  summary: str
  source: str

  @property
  def text(self) -> str:
    """What BM25 ranks: title and tags (twice, so they weigh more than the summary), then the summary."""
    return " ".join((self.title, *self.tags) * 2 + (self.summary,))

  def hit(self, score: float) -> Hit:
    """This entry as a search result with `score`."""
    return Hit(self.id, self.title, self.arxiv, self.year, self.summary, score, self.source)
