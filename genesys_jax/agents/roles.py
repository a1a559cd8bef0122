"""The roles: each is a prompt template (a text file in prompts/) and the schema of its answer."""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import string

import pydantic

from genesys_jax.agents import schemas
from genesys_jax.agents.llm.base import Request

SYSTEM = ("You are part of a team of language models that discovers new language-model architectures. "
          "Answer only with the JSON object asked for.")


@dataclasses.dataclass(frozen=True)
class Role:
  """A role's name (the LLM config's key), its prompt file and its answer schema."""

  name: str
  template: str
  schema: type[pydantic.BaseModel]


PROPOSER = Role("proposer", "proposer.txt", schemas.ProposalAnswer)
REVIEWER = Role("reviewer", "reviewer.txt", schemas.ReviewAnswer)
PLANNER = Role("planner", "planner.txt", schemas.PlanAnswer)
CODER = Role("coder", "coder.txt", schemas.CodeAnswer)
OBSERVER = Role("observer", "observer.txt", schemas.ObserveAnswer)
DIRECT_CODER = Role("coder", "direct_coder.txt", schemas.BlockAnswer)


@functools.cache
def prompt_file(name: str) -> str:
  """A file of the prompts folder (templates, the playbook, the unit template)."""
  return importlib.resources.files("genesys_jax.agents").joinpath("prompts", name).read_text()


def render(role: Role, temperature: float = 0.7, **values: str) -> Request:
  """The role's request with `$placeholders` filled from `values` (every placeholder must be given)."""
  prompt = string.Template(prompt_file(role.template)).substitute(**values)
  return Request(role=role.name, system=SYSTEM, prompt=prompt, schema=role.schema, temperature=temperature)
