"""What the engine knows offline: the bundled paper library and the repository's own library units."""

from __future__ import annotations

import ast
import functools
import importlib.resources
import json

from genesys_jax.agents.knowledge.records import Entry
from genesys_jax.units.library import UNIT_FILES, unit_source

PAPER_FIELDS = ("id", "title", "arxiv", "year", "tags", "summary")


@functools.cache
def bundled_papers() -> tuple[Entry, ...]:
  """The papers in `papers.jsonl`, one JSON object per line."""
  text = importlib.resources.files("genesys_jax.agents.knowledge").joinpath("papers.jsonl").read_text()
  rows = [json.loads(line) for line in text.splitlines() if line.strip()]
  return tuple(Entry(r["id"], r["title"], r["arxiv"], int(r["year"]), tuple(r["tags"]), r["summary"], "papers")
               for r in rows)


def library_unit(unit: str) -> Entry:
  """A library unit as an entry: its file's module docstring followed by its class docstring."""
  tree = ast.parse(unit_source(unit))
  classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == unit]
  docs = [ast.get_docstring(tree), ast.get_docstring(classes[0]) if classes else None]
  stem = UNIT_FILES[unit].removesuffix(".py")
  return Entry(unit, f"{unit} (library unit, units/{stem}.py)", "", None, ("library unit", stem),
               " ".join(d for d in docs if d), "library")


def library_units() -> tuple[Entry, ...]:
  """Every unit in `genesys_jax.units.library.UNIT_FILES`, read from its source."""
  return tuple(library_unit(unit) for unit in UNIT_FILES)
