"""What a design session produces: a new design, how it was made and why."""

from __future__ import annotations

import dataclasses

from genesys_jax.gau.design import Design

OPERATORS = ("mutation", "crossover", "scratch")


@dataclasses.dataclass(frozen=True)
class Proposal:
  """A proposed design with its operator, parents (design names), changed units and rationale."""

  design: Design
  operator: str
  parents: tuple[str, ...]
  changed_units: tuple[str, ...]
  rationale: str
