"""The checker's result channel: JSON lines on a pipe from a sandboxed process to the parent.

Messages: `{"stage": name, "t": seconds}` when a stage starts, `{"check": {...}}` when a check is done,
`{"done": true}` at the end. The parent caps each line and keeps only well-formed messages.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

from genesys_jax.check.report import Check

MESSAGE_CAP_BYTES = 256 * 2**10


class ResultChannel:
  """The sending side, opened on the pipe's file descriptor before any other work."""

  def __init__(self, fd: int):
    self._file = os.fdopen(fd, "w", buffering=1)
    self._start = time.perf_counter()
    self.current = "startup"

  def send(self, obj: dict) -> None:
    self._file.write(json.dumps(obj) + "\n")
    self._file.flush()

  def check(self, check: Check) -> None:
    self.send({"check": check.to_json()})

  def stage(self, name: str) -> None:
    self.current = name
    self.send({"stage": name, "t": round(time.perf_counter() - self._start, 3)})

  def done(self) -> None:
    self.stage("done")
    self.send({"done": True})
    self._file.close()


def messages(data: bytes) -> Iterator[dict]:
  """The well-formed messages of a result channel's contents (each line capped and schema-checked)."""
  for line in data.split(b"\n"):
    if not line or len(line) > MESSAGE_CAP_BYTES:
      continue
    try:
      msg = json.loads(line)
    except (ValueError, RecursionError):
      continue
    if not isinstance(msg, dict):
      continue
    if isinstance(msg.get("stage"), str) and isinstance(msg.get("t"), (int, float)):
      yield {"stage": msg["stage"], "t": float(msg["t"])}
    elif msg.get("done") is True:
      yield {"done": True}
    elif isinstance(c := msg.get("check"), dict) and isinstance(c.get("name"), str) and isinstance(
        c.get("ok"), bool) and isinstance(c.get("message"), str) and c.get("severity") in ("error", "warning"):
      figures = c.get("figures", {})
      yield {"check": Check(c["name"], c["ok"], c["message"], c["severity"] == "error",
                            figures if isinstance(figures, dict) else {})}
