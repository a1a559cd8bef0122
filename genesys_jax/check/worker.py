"""The sandboxed side of the checker: `python -m genesys_jax.check.worker REQUEST.json`.

Runs the dynamic checks and prints one JSON object per line: `{"stage": name, "t": seconds since start}` when a stage starts,
`{"check": {...}}` when a check is done, `{"done": true}` at the end. If a limit kills the process, the
last stage line tells the parent where it happened.
"""

from __future__ import annotations

import json
import sys
import time

from genesys_jax.check.compilation_cache import use_compilation_cache
from genesys_jax.check.dynamic import CheckSettings, run_checks
from genesys_jax.check.report import Check


def _print(obj: dict) -> None:
  sys.stdout.write(json.dumps(obj) + "\n")
  sys.stdout.flush()


_START = time.perf_counter()


def main(request_path: str) -> None:
  with open(request_path) as f:  # our own request file, written by the parent
    request = json.load(f)
  settings = CheckSettings(**request["settings"])
  if request.get("compilation_cache"):
    use_compilation_cache(request["compilation_cache"])

  def emit(check: Check) -> None:
    _print({"check": check.to_json()})

  def stage(name: str) -> None:
    _print({"stage": name, "t": round(time.perf_counter() - _START, 3)})

  run_checks(request["design"], settings, emit, stage=stage)
  stage("done")
  _print({"done": True})


if __name__ == "__main__":
  main(sys.argv[1])
