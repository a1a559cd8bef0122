"""What selection reads about a design: the store's rows, flattened into plain values."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


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
