"""The LLM interface every backend implements: a request in, text (and a validated object) out."""

from __future__ import annotations

import dataclasses
from typing import Protocol

import pydantic


@dataclasses.dataclass(frozen=True)
class Request:
  """One call: which role asks, the system and user prompts, and the answer's schema if structured."""

  role: str
  system: str
  prompt: str
  schema: type[pydantic.BaseModel] | None = None
  temperature: float = 0.7


@dataclasses.dataclass(frozen=True)
class Reply:
  """What a backend answered: the raw text and the token counts it reported."""

  text: str
  model: str
  input_tokens: int
  output_tokens: int


class TransientError(Exception):
  """A failure worth retrying: rate limit, server error, timeout, transport error."""


class PermanentError(Exception):
  """A failure retrying will not fix: bad request, unknown model, refused credentials."""


class Backend(Protocol):
  """Sends one request to a model. Raises TransientError or PermanentError; never retries itself."""

  def complete(self, request: Request, model: str) -> Reply: ...
