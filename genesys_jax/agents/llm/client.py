"""The one way agents ask a model: retries, JSON repair, costs and a record of every call."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import pydantic
from absl import logging

from genesys_jax.agents.llm.base import Backend, PermanentError, Request, TransientError
from genesys_jax.agents.llm.costs import Ledger, Price, Usage
from genesys_jax.agents.llm.wire_schema import text_instruction

STRUCTURED_MODES = ("schema", "text")
"""schema: the provider constrains the answer to the schema; text: the schema is in the prompt and the
JSON object is taken from the answer's text (servers without structured output)."""


@dataclasses.dataclass(frozen=True)
class CallRecord:
  """What one `ask` did: the question, the final answer or error, and what it cost over all attempts."""

  role: str
  model: str
  design_id: str | None
  system: str
  prompt: str
  text: str
  parsed: dict[str, Any] | None
  ok: bool
  error: str | None
  attempts: int
  input_tokens: int
  output_tokens: int
  cost_usd: float
  seconds: float

  def to_json(self) -> dict[str, Any]:
    """A JSON-serializable dict of every field."""
    return dataclasses.asdict(self)


class InvalidAnswer(Exception):
  """A structured answer that does not parse or validate; its message says why, for the repair prompt."""


class BudgetSpent(Exception):
  """The run's LLM budget is spent: the call was not made."""


def _json_object(text: str) -> str:
  """The outermost `{...}` of an answer, after dropping a surrounding ``` fence."""
  body = text.strip()
  if body.startswith("```"):
    body = body.split("\n", 1)[1] if "\n" in body else ""
  if body.rstrip().endswith("```"):
    body = body.rstrip()[:-3]
  start, end = body.find("{"), body.rfind("}")
  if start < 0 or end < start:
    raise InvalidAnswer("the answer holds no JSON object")
  return body[start:end + 1]


def parse_answer(text: str, schema: type[pydantic.BaseModel]) -> dict[str, Any]:
  """The answer's JSON object validated by `schema`, as plain JSON data; InvalidAnswer otherwise."""
  try:
    return schema.model_validate_json(_json_object(text)).model_dump(mode="json")
  except pydantic.ValidationError as e:
    problems = [f"{'.'.join(map(str, err['loc'])) or 'answer'}: {err['msg']}"
                for err in e.errors(include_url=False)]
    raise InvalidAnswer("; ".join(problems)) from None


@dataclasses.dataclass
class _Tally:
  """Backend calls, tokens and the latest answer text over one `ask`."""

  attempts: int = 0
  input_tokens: int = 0
  output_tokens: int = 0
  text: str = ""


class LLMClient:
  """Asks a backend for each role's model; never raises for failed calls, returns a failed CallRecord.

  `cap_usd` is a hard cap on the ledger's total: once it is reached no call is made (each call in flight
  may still finish, so the cap is overshot by at most one call per thread)."""

  def __init__(self, backend: Backend, models: Mapping[str, str], prices: Mapping[str, Price], ledger: Ledger,
               retries: int = 4, backoff_s: float = 1.0, max_backoff_s: float = 30,
               repair_attempts: int = 1, sleep: Callable[[float], None] = time.sleep,
               structured: str = "schema", cap_usd: float = float("inf")) -> None:
    if structured not in STRUCTURED_MODES:
      raise ValueError(f"unknown structured-output mode {structured!r}; choose one of {', '.join(STRUCTURED_MODES)}")
    self.structured = structured
    self.cap_usd = cap_usd
    self.backend = backend
    self.models = dict(models)
    self.prices = dict(prices)
    self.ledger = ledger
    self.retries = retries
    self.backoff_s = backoff_s
    self.max_backoff_s = max_backoff_s
    self.repair_attempts = repair_attempts
    self._sleep = sleep
    self._random = random.Random()

  def _delay(self, retry: int) -> float:
    """Exponential backoff, capped, with jitter down to half so that parallel callers spread out."""
    return min(self.max_backoff_s, self.backoff_s * 2 ** retry) * self._random.uniform(0.5, 1.0)

  def _complete(self, request: Request, model: str, tally: _Tally) -> str:
    """One answer text from the backend, retrying transient errors up to `retries` times."""
    retry = 0
    while True:
      tally.attempts += 1
      try:
        reply = self.backend.complete(request, model)
      except TransientError as e:
        if retry == self.retries:
          raise TransientError(f"{e} (gave up after {retry + 1} tries)") from None
        delay = self._delay(retry)
        retry += 1
        logging.warning("LLM %s: %s; retry %d/%d in %.1f s", request.role, e, retry, self.retries, delay)
        self._sleep(delay)
        continue
      tally.input_tokens += reply.input_tokens
      tally.output_tokens += reply.output_tokens
      tally.text = reply.text
      return reply.text

  def _answer(self, request: Request, model: str, tally: _Tally) -> dict[str, Any] | None:
    """A structured request's parsed answer (None for free text); re-asks with the problem appended when
    the answer does not validate, up to `repair_attempts` times."""
    prompt = request.prompt
    in_text = self.structured == "text" and request.schema is not None
    suffix = text_instruction(request.schema) if in_text else ""
    repair = 0
    while True:
      sent = dataclasses.replace(request, prompt=prompt + suffix, schema=None if in_text else request.schema)
      text = self._complete(sent, model, tally)
      if request.schema is None:
        return None
      try:
        return parse_answer(text, request.schema)
      except InvalidAnswer as e:
        if repair == self.repair_attempts:
          raise InvalidAnswer(f"{e} (still invalid after {repair} repairs)") from None
        repair += 1
        logging.warning("LLM %s: invalid answer (%s); asking again", request.role, e)
        prompt = (f"{request.prompt}\n\nYour previous answer could not be used: {e}. "
                  "Answer again with one JSON object that matches the schema.")

  def ask(self, request: Request, design_id: str | None = None) -> CallRecord:
    """Asks the role's model; the record says whether it worked. Every call is charged to the ledger."""
    if request.role not in self.models:
      raise ValueError(f"no model for role {request.role!r}; roles with models: {', '.join(self.models)}")
    model = self.models[request.role]
    start = time.monotonic()
    tally = _Tally()
    parsed, error = None, None
    try:
      if self.ledger.total().cost_usd >= self.cap_usd:
        raise BudgetSpent(f"the run's LLM budget of ${self.cap_usd:.2f} is spent; no call was made")
      parsed = self._answer(request, model, tally)
    except (TransientError, PermanentError, InvalidAnswer, BudgetSpent) as e:
      error = f"{type(e).__name__}: {e}"
      logging.warning("LLM %s call failed: %s", request.role, error)
    except Exception as e:  # a backend's or SDK's own bug: still a recorded, charged, failed call
      error = f"{type(e).__name__}: {e}"
      logging.exception("LLM %s call failed unexpectedly", request.role)
    price = self.prices.get(model, Price(0.0, 0.0))
    cost = price.cost(tally.input_tokens, tally.output_tokens)
    record = CallRecord(
        role=request.role, model=model, design_id=design_id, system=request.system, prompt=request.prompt,
        text=tally.text, parsed=parsed, ok=error is None, error=error, attempts=tally.attempts,
        input_tokens=tally.input_tokens, output_tokens=tally.output_tokens, cost_usd=cost,
        seconds=time.monotonic() - start)
    self.ledger.add(request.role, design_id, Usage(
        calls=1, failures=int(error is not None), input_tokens=tally.input_tokens,
        output_tokens=tally.output_tokens, cost_usd=cost))
    return record
