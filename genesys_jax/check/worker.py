"""The sandboxed side of the checker: `python -m genesys_jax.check.worker REQUEST.json --result_fd N`.

Runs the dynamic checks and writes one JSON object per line to file descriptor N (a pipe only the parent
reads; what unit code prints goes to stdout, which counts for nothing): `{"stage": name, "t": seconds}`
when a stage starts, `{"check": {...}}` when a check is done, `{"done": true}` at the end. A
`BaseException` out of unit code (SystemExit, KeyboardInterrupt, ...) is a rejection of its stage. If a
limit kills the process, the last stage line tells the parent where it happened.
"""

from __future__ import annotations

import json
import os
import time

from genesys_jax.check.compilation_cache import use_request_cache
from genesys_jax.check.dynamic import CheckSettings, run_checks
from genesys_jax.check.report import Check
from genesys_jax.check.sandbox import child_arguments

_START = time.perf_counter()


def main(request_path: str, result_fd: int) -> None:
  channel = os.fdopen(result_fd, "w", buffering=1)  # opened before any unit code runs

  def send(obj: dict) -> None:
    channel.write(json.dumps(obj) + "\n")
    channel.flush()

  with open(request_path) as f:  # our own request file, written by the parent
    request = json.load(f)
  settings = CheckSettings(**request["settings"])
  use_request_cache(request)
  current = ["startup"]

  def stage(name: str) -> None:
    current[0] = name
    send({"stage": name, "t": round(time.perf_counter() - _START, 3)})

  try:
    run_checks(request["design"], settings, lambda check: send({"check": check.to_json()}), stage=stage)
  except BaseException as e:  # noqa: B036 - unit code raising SystemExit or KeyboardInterrupt is rejected
    if isinstance(e, Exception):
      raise  # the checks catch what unit code raises as an Exception; anything else here is our bug
    send({"check": Check(current[0], False, f"unit code raised {type(e).__name__} during the {current[0]} "
                         "stage; a unit must return its output, never exit or interrupt").to_json()})
  stage("done")
  send({"done": True})
  channel.close()


if __name__ == "__main__":
  main(*child_arguments())
