"""Offline ranking: BM25 (the `bm25s` package) over a tokenizer that lowercases and drops punctuation."""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s

_WORD = re.compile(r"[A-Za-z0-9]+")
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_STOPWORDS = frozenset("a an and are as at be but by for from if in into is it its no not of on or such that the "
                       "their then there these they this to was which will with".split())


def _normalize(word: str) -> str:
  """Lowercase and strip a plural `s` (not from `-ss` words), so `spaces` matches `space`."""
  word = word.lower()
  return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def tokens(text: str) -> list[str]:
  """Words of `text` without punctuation or stopwords; a camel-case word also yields its parts."""
  out = []
  for word in _WORD.findall(text):
    parts = _PART.findall(word)
    for token in (word, *parts) if len(parts) > 1 else (word,):
      token = _normalize(token)
      if token not in _STOPWORDS:
        out.append(token)
  return out


class Bm25Index:
  """BM25 scores of a fixed list of documents; ties are broken by document key."""

  def __init__(self, keys: Sequence[str], texts: Sequence[str]):
    self._keys = list(keys)
    self._bm25 = bm25s.BM25()
    self._bm25.index([tokens(t) for t in texts], show_progress=False)

  def top(self, query: str, k: int) -> list[tuple[int, float]]:
    """Up to `k` `(document index, score)` pairs with positive score, best first."""
    query_tokens = tokens(query)
    if not query_tokens:
      return []
    scores = self._bm25.get_scores(query_tokens)
    ranked = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-float(scores[i]), self._keys[i]))
    return [(i, float(scores[i])) for i in ranked[:k]]
