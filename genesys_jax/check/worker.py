"""The sandboxed side of the checker that imports unit code:
`python -m genesys_jax.check.worker REQUEST.json --result_fd N --data_fd M`.

Loads the design, runs its own unit tests, sizes it and exports its programs (`check.unit_stages`). It
reports stages and the unit's own failures on the result channel (descriptor N, `check.channel`; what
unit code prints goes to stdout, which counts for nothing) and writes the bundle of exported programs to
descriptor M. Nothing it sends is a verdict the parent takes on trust: every other check is derived from
the bundle by `check.prober`, a process that never imports the unit. A `BaseException` out of unit code
(SystemExit, KeyboardInterrupt, ...) is a rejection of its stage.
"""

from __future__ import annotations

import json
import os

from genesys_jax.check.channel import ResultChannel
from genesys_jax.check.compilation_cache import use_request_cache
from genesys_jax.check.dynamic import CheckSettings
from genesys_jax.check.exports import write_bundle
from genesys_jax.check.report import Check
from genesys_jax.check.sandbox import child_arguments
from genesys_jax.check.unit_stages import export_design


def main(request_path: str, result_fd: int, data_fd: int) -> None:
  channel = ResultChannel(result_fd)  # both opened before any unit code runs
  data = os.fdopen(data_fd, "wb")
  with open(request_path) as f:  # our own request file, written by the parent
    request = json.load(f)
  settings = CheckSettings(**request["settings"])
  use_request_cache(request)
  exported = None
  try:
    exported = export_design(request["design"], settings, channel.check, channel.stage)
  except BaseException as e:  # noqa: B036 - unit code raising SystemExit or KeyboardInterrupt is rejected
    if isinstance(e, Exception):
      raise  # the stages catch what unit code raises as an Exception; anything else here is our bug
    channel.check(Check(channel.current, False, f"unit code raised {type(e).__name__} during the "
                        f"{channel.current} stage; a unit must return its output, never exit or interrupt"))
  if exported is not None:
    channel.stage("bundle")
    write_bundle(data, *exported)
  data.close()
  channel.done()


if __name__ == "__main__":
  args = child_arguments()
  main(args.request, args.result_fd, args.data_fd)
