"""Writing files so that a crash never leaves a half-written one."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any


def write_text_atomic(path: str | pathlib.Path, text: str) -> pathlib.Path:
  """Writes `text` to a temporary file beside `path`, flushes it to disk, then renames it over `path`."""
  path = pathlib.Path(path)
  tmp = path.with_name(path.name + ".tmp")
  with tmp.open("w") as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())
  tmp.replace(path)
  return path


def write_json_atomic(path: str | pathlib.Path, obj: Any, **dumps_kwargs: Any) -> pathlib.Path:
  """`obj` as indented JSON at `path`, atomically."""
  return write_text_atomic(path, json.dumps(obj, indent=2, **dumps_kwargs) + "\n")


def read_json(path: str | pathlib.Path) -> Any:
  """The JSON value in the file at `path`."""
  return json.loads(pathlib.Path(path).read_text())
