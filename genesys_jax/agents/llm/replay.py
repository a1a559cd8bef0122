"""Answers without a model: replayed transcripts, the recorder that writes them, and scripted answers for tests."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import pathlib
import threading

from genesys_jax.agents.llm.base import Backend, PermanentError, Reply, Request


def request_key(request: Request) -> str:
  """A stable hash of what makes an answer: role, system prompt, prompt and schema name (not temperature)."""
  schema = request.schema.__name__ if request.schema else None
  payload = json.dumps([request.role, request.system, request.prompt, schema])
  return hashlib.sha256(payload.encode()).hexdigest()


class ReplayBackend:
  """Serves the answers a RecordingBackend wrote; several answers under one key are served in order.

  `match="prompt"` serves an answer only to the very request it was recorded for; `match="role"` serves
  each role's answers in recorded order whatever the prompt says, for replaying a real session whose
  prompts carry measured figures (check reports with timings) that differ from machine to machine."""

  def __init__(self, path: str | pathlib.Path, match: str = "prompt") -> None:
    if match not in ("prompt", "role"):
      raise ValueError(f"unknown replay match {match!r}; choose prompt or role")
    self.path = pathlib.Path(path)
    self.match = match
    self._lock = threading.Lock()
    self._answers: dict[str, collections.deque[dict]] = collections.defaultdict(collections.deque)
    for line in self.path.read_text().splitlines():
      if line.strip():
        entry = json.loads(line)
        self._answers[entry["key"] if match == "prompt" else entry["role"]].append(entry)

  def __repr__(self) -> str:
    return f"ReplayBackend({str(self.path)!r})"

  def complete(self, request: Request, model: str) -> Reply:
    """The next recorded answer for this request; PermanentError when there is none left."""
    key = request_key(request) if self.match == "prompt" else request.role
    with self._lock:
      queue = self._answers.get(key)
      if not queue:
        raise PermanentError(f"{self.path} has no (more) recorded answers for this {request.role} call "
                             f"(key {key[:12]}); record the run again or fix the prompt")
      entry = queue.popleft()
    return Reply(text=entry["text"], model=entry["model"], input_tokens=entry["input_tokens"],
                 output_tokens=entry["output_tokens"])


class RecordingBackend:
  """Wraps a backend and appends every answer it gets to a JSONL transcript that ReplayBackend reads."""

  def __init__(self, inner: Backend, path: str | pathlib.Path) -> None:
    self.inner = inner
    self.path = pathlib.Path(path)
    self.path.parent.mkdir(parents=True, exist_ok=True)
    self._lock = threading.Lock()

  def __repr__(self) -> str:
    return f"RecordingBackend({self.inner!r}, {str(self.path)!r})"

  def complete(self, request: Request, model: str) -> Reply:
    """Asks the inner backend; records the answer (failures are not recorded, they raise through)."""
    reply = self.inner.complete(request, model)
    entry = {"role": request.role, "key": request_key(request), **dataclasses.asdict(reply)}
    with self._lock, self.path.open("a") as f:
      f.write(json.dumps(entry) + "\n")
    return reply


class ScriptedBackend:
  """Serves each role's scripted answers in order, for unit tests; records the requests it got."""

  def __init__(self, answers: dict[str, list[str]]) -> None:
    self._answers = {role: collections.deque(texts) for role, texts in answers.items()}
    self._lock = threading.Lock()
    self.requests: list[Request] = []

  def complete(self, request: Request, model: str) -> Reply:
    """The role's next answer, with zero token counts; PermanentError when it has none left."""
    with self._lock:
      self.requests.append(request)
      queue = self._answers.get(request.role)
      if not queue:
        raise PermanentError(f"the script has no (more) answers for the {request.role}")
      return Reply(text=queue.popleft(), model=model, input_tokens=0, output_tokens=0)
