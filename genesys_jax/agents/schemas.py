"""The answer each role must give, as pydantic schemas (sent to the model as structured output).

Every schema stays inside what all providers accept (see `llm/wire_schema.py`): objects with named
fields, lists and plain values; no maps (Gemini's Developer API refuses `additionalProperties`), so a
name -> value table is a list of pairs.
"""

from __future__ import annotations

import pydantic


class NewUnit(pydantic.BaseModel):
  name: str
  description: str


class ProposalAnswer(pydantic.BaseModel):
  """The proposer's design."""

  title: str
  motivation: str
  idea: str
  selection: list[str]
  new_units: list[NewUnit]
  search_queries: list[str] = []


class ReviewAnswer(pydantic.BaseModel):
  """The reviewer's ratings (1-5) and critique."""

  novelty: int = pydantic.Field(ge=1, le=5)
  soundness: int = pydantic.Field(ge=1, le=5)
  efficiency: int = pydantic.Field(ge=1, le=5)
  scalability: int = pydantic.Field(ge=1, le=5)
  rating: int = pydantic.Field(ge=1, le=5)
  review: str
  suggestions: str


class PlanAnswer(pydantic.BaseModel):
  """The planner's choice of the next unit to write."""

  next_unit: str
  reuse: list[str] = []
  notes: str = ""


class SlotFill(pydantic.BaseModel):
  """One child slot of a unit and the unit that fills it."""

  slot: str
  unit: str


class HParam(pydantic.BaseModel):
  """One constructor hyperparameter of a unit and its value."""

  name: str
  value: int | float | bool | str


class CodeAnswer(pydantic.BaseModel):
  """The coder's unit: its file and how its slots are filled."""

  unit_name: str
  code: str
  children: list[SlotFill] = []
  hparams: list[HParam] = []


class ObserveAnswer(pydantic.BaseModel):
  """The observer's rating (1-5) of a unit's code."""

  rating: int = pydantic.Field(ge=1, le=5)
  review: str
  suggestions: str = ""


class BlockAnswer(pydantic.BaseModel):
  """The direct-prompting coder's whole block file."""

  code: str
