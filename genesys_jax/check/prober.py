"""The trusted side of the checker: `python -m genesys_jax.check.prober REQUEST.json --result_fd N`.

A fresh interpreter that never imports unit code. It starts beside the worker and compiles the GPT
reference meanwhile; when the parent writes "go" to the request's `ready` file it reads the bundle of programs the worker exported
(`check.exports`, which refuses programs that reach outside XLA), then derives the forward, causality,
gradient, parameter-count, training and efficiency checks and the fingerprint from them
(`check.dynamic`), reporting on the result channel (`check.channel`). It runs in the sandbox as well:
the bundle is untrusted data, parsed by XLA's own readers.
"""

from __future__ import annotations

import json
import os
import time

from genesys_jax.check.channel import ResultChannel
from genesys_jax.check.compilation_cache import use_request_cache
from genesys_jax.check.dynamic import CheckSettings, prepare_reference, program_inputs, run_checks
from genesys_jax.check.exports import BundleError, read_bundle
from genesys_jax.check.report import Check
from genesys_jax.check.sandbox import child_arguments


def main(request_path: str, result_fd: int) -> None:
  channel = ResultChannel(result_fd)
  with open(request_path) as f:
    request = json.load(f)
  settings = CheckSettings(**request["settings"])
  use_request_cache(request)
  channel.stage("reference")  # the GPT reference compiles while the worker exports the design
  reference = prepare_reference(settings)
  channel.stage("waiting")
  if _wait_for(request["ready"]) != "go":  # the worker failed: nothing to check
    channel.done()
    return
  channel.stage("programs")
  try:
    programs, manifest = read_bundle(request["bundle"], program_inputs(settings))
  except BundleError as e:
    channel.check(Check("programs", False, f"{e}; units may use only jax, flax and numpy array operations"))
  else:
    shape = {k: manifest[k] for k, kind in (("embed_dim", int), ("n_layers", int), ("sizing", str))
             if isinstance(manifest.get(k), kind)}
    run_checks(programs, shape, settings, reference, channel.check, channel.stage)
  channel.done()


def _wait_for(path: str, poll_s: float = 0.02) -> str:
  """The word the parent writes to `path` (renamed into place, so it is whole) once the worker is done."""
  while not os.path.exists(path):
    time.sleep(poll_s)
  with open(path) as f:
    return f.read().strip()


if __name__ == "__main__":
  args = child_arguments()
  main(args.request, args.result_fd)
