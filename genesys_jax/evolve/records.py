"""What selection reads about a design: the store's rows, flattened into plain values."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from genesys_jax.evolve.store_rows import DesignRow, VerificationRow


@dataclasses.dataclass(frozen=True)
class DesignView:
  """One implemented design as fitness and selection see it.

  `results` maps each rung the design finished verifying at to that verification's results
  (the dict `genesys_jax.verify.run.verify` returns, status 'completed').
  """

  id: int
  name: str
  seed: bool
  operator: str | None = None
  parents: tuple[int, ...] = ()
  rating: float | None = None          # the proposal's review rating (1-5), when an LLM reviewed it
  results: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


def design_views(rows: Iterable[DesignRow], verifications: Iterable[VerificationRow],
                 until: float | None = None) -> list[DesignView]:
  """The implemented designs as fitness sees them, with the completed verifications recorded by `until`
  (all of them when None)."""
  results: dict[int, dict[str, dict]] = {}
  for v in verifications:
    if v.status == "completed" and (until is None or v.created <= until):
      results.setdefault(v.design_id, {})[v.rung] = v.results
  return [DesignView(r.id, r.name, r.seed, r.operator, r.parents, None, results.get(r.id, {}))
          for r in rows if r.status == "implemented"]
