"""The sandboxed side of a verification: `python -m genesys_jax.verify.job REQUEST.json --result_fd N`.

Loads the design (agent-written code runs only here), verifies it at its rung with `verify.run.verify`,
and writes one JSON line to file descriptor N: `{"results": {...}}`, or `{"error": ..., "usage": bad
input?, "traceback": ...}` when the verification raised. It stops (checkpoint, status 'preempted') once
the file named by the request's `stop_file` exists, a signal that crosses any sandbox.
"""

from __future__ import annotations

import json
import os
import pathlib
import traceback

import ml_collections

from genesys_jax.check.compilation_cache import use_request_cache
from genesys_jax.check.sandbox import child_arguments
from genesys_jax.distributed import initialize_if_multi_host
from genesys_jax.gau.design import load_design
from genesys_jax.gau.errors import DesignError
from genesys_jax.verify.checkpoints import CheckpointError
from genesys_jax.verify.corpus import CorpusError
from genesys_jax.verify.run import verify
from genesys_jax.verify.train import StopFlag, stop_on_sigterm


class FileStopFlag(StopFlag):
  """Set by hand, by SIGTERM, or by the file at `path` appearing."""

  def __init__(self, path: str):
    super().__init__()
    self._path = path

  def __bool__(self) -> bool:
    return super().__bool__() or os.path.exists(self._path)


def _progress(step: int, row: dict) -> None:
  print(f"  step {step}: loss {row['loss']:.4f}, lr {row['learning_rate']:.2e}, "
        f"{row['tokens_per_second']:,.0f} tokens/s, ETA {row['eta_seconds']:.0f} s", flush=True)


def main(request_path: str, result_fd: int) -> None:
  channel = os.fdopen(result_fd, "w")  # opened before any unit code runs
  request = json.loads(pathlib.Path(request_path).read_text())
  use_request_cache(request)
  stop = FileStopFlag(request["stop_file"])
  try:
    if request["multi_host"]:
      initialize_if_multi_host()
    with stop_on_sigterm(stop):
      design = load_design(request["design"])
      results = verify(design, request["rung"], request["verify_root"],
                       ml_collections.ConfigDict(request["settings"]), stop=stop,
                       on_log=_progress if request["progress"] else None)
    message = {"results": results}
  except Exception as e:  # reported to the trusted side, which retries or records it
    usage = isinstance(e, (ValueError, DesignError, CorpusError, CheckpointError, FileNotFoundError))
    message = {"error": str(e) if usage else f"{type(e).__name__}: {e}", "usage": usage,
               "traceback": traceback.format_exc(limit=5)}
  channel.write(json.dumps(message) + "\n")
  channel.close()


if __name__ == "__main__":
  args = child_arguments()
  main(args.request, args.result_fd)
