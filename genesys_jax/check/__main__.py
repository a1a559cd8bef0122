"""`python -m genesys_jax.check PATH [--json] [--timeout SECONDS] [--scale NAME] [--allow_unisolated]`.

Exit 0: accepted; 1: rejected; 2: usage error. With --json, exactly one JSON object on stdout.
"""

import json
import pathlib
from collections.abc import Sequence

from absl import flags

from genesys_jax import cli
from genesys_jax.check.checker import check
from genesys_jax.check.dynamic import CheckSettings
from genesys_jax.check.sandbox import Limits
from genesys_jax.gau.scales import SCALES

_JSON = flags.DEFINE_bool("json", False, "Print exactly one JSON object on stdout.")
_TIMEOUT = flags.DEFINE_float("timeout", Limits.timeout_s, "Wall-clock limit of the sandboxed checks, seconds.")
_SCALE = flags.DEFINE_string("scale", CheckSettings.scale, "Rung whose parameter band and budget apply.")
_ALLOW_UNISOLATED = flags.DEFINE_bool("allow_unisolated", False, "Run code that is not the library's even "
                                      "where bubblewrap is missing (no namespace isolation).")


def main(argv: Sequence[str]) -> int:
  if len(argv) != 2:
    raise cli.UsageProblem("give exactly one PATH: a design directory or a .py block file")
  path = pathlib.Path(argv[1])
  if not path.exists():
    raise cli.UsageProblem(f"no such design path: {path}")
  if not (path.is_dir() or path.suffix == ".py"):
    raise cli.UsageProblem(f"{path} is neither a design directory nor a .py block file")
  if _SCALE.value not in SCALES:
    raise cli.UsageProblem(f"unknown --scale {_SCALE.value!r}; choose from {list(SCALES)}")
  if _TIMEOUT.value <= 0:
    raise cli.UsageProblem(f"--timeout must be positive, got {_TIMEOUT.value:g}")
  report = check(path, CheckSettings(scale=_SCALE.value),
                 Limits(timeout_s=_TIMEOUT.value, allow_unisolated=_ALLOW_UNISOLATED.value))
  if [c.name for c in report.checks if not c.ok] == ["isolation"]:
    raise cli.UsageProblem(report.checks[-1].message.replace("--config.check.allow_unisolated=True",
                                                             "--allow_unisolated"))
  if _JSON.value:
    print(json.dumps(report.to_json()))
  else:
    for c in report.checks:
      status = "ok" if c.ok else ("FAIL" if c.fatal else "warn")
      print(f"{status:4s} {c.name}" + (f": {c.message}" if c.message else ""))
    print(f"isolation: {', '.join(report.isolation) or 'none (rejected before running)'}")
    print("accepted" if report.ok else "rejected")
  return 0 if report.ok else 1


if __name__ == "__main__":
  cli.run(main, max_args=1)
