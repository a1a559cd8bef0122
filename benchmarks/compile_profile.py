"""Where a cold process spends its time compiling: the checker's stages and a verification, per stage.

    python benchmarks/compile_profile.py                  # every seed, empty compilation cache
    python benchmarks/compile_profile.py --seeds gpt2 --warm

Runs the checker's dynamic stages (in this process, not sandboxed: these are the library's own seeds)
and then a short verification at micro1, counting XLA compiles and the seconds spent tracing, lowering
and compiling (JAX's monitoring events) in each stage. With an empty cache this is what a newcomer's
first run pays per design; with `--warm` (a second pass over the same cache) what is left.
"""

from __future__ import annotations

import argparse
import collections
import os
import pathlib
import sys
import tempfile
import time

import jax
from jax._src import monitoring

EVENTS = {"/jax/core/compile/backend_compile_duration": "compile",
          "/jax/core/compile/jaxpr_trace_duration": "trace",
          "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
          "/jax/compilation_cache/cache_retrieval_time_sec": "cache_read"}


class Profile:
  """Sums JAX's compile events by the stage that is running."""

  def __init__(self):
    self.stage = "startup"
    self.seconds: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    self.wall: collections.Counter = collections.Counter()
    self._t = time.perf_counter()
    monitoring.register_event_duration_secs_listener(self._on_duration)

  def _on_duration(self, event: str, duration: float, **_) -> None:
    if event in EVENTS:
      self.seconds[self.stage][EVENTS[event]] += duration
      if EVENTS[event] == "compile":
        self.seconds[self.stage]["compiles"] += 1

  def enter(self, stage: str) -> None:
    now = time.perf_counter()
    self.wall[self.stage] += now - self._t
    self.stage, self._t = stage, now


def main() -> None:
  from genesys_jax.check.compilation_cache import use_compilation_cache
  from genesys_jax.check.dynamic import CheckSettings, check_in_process
  from genesys_jax.units.seeds import SEED_NAMES, seed_design
  from genesys_jax.verify.run import verify
  from genesys_jax.verify.settings import verify_config

  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--seeds", nargs="*", default=list(SEED_NAMES))
  parser.add_argument("--warm", action="store_true", help="profile a second pass over a warmed cache")
  parser.add_argument("--verify_steps", type=int, default=20)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as tmp:
    use_compilation_cache(pathlib.Path(tmp) / "xla")
    profile = Profile()
    for rounds in range(2 if args.warm else 1):
      for name in args.seeds:
        path = seed_design(name).save(pathlib.Path(tmp) / f"{name}-{rounds}")
        failed = []
        check_in_process(str(path), CheckSettings(), lambda c: failed.append(c.name) if not c.ok and c.fatal else None,
                         stage=lambda s, n=name: profile.enter(f"check:{s}"))
        profile.enter("verify")
        c = verify_config()
        c.mesh.data = 1
        c.train.max_steps = args.verify_steps
        c.diagnostics.enabled = False
        c.eval.max_batches = 4
        verify(seed_design(name), "micro1", pathlib.Path(tmp) / f"v-{name}-{rounds}", c)
        profile.enter("between")
        if failed:
          print(f"{name}: rejected by {failed}", file=sys.stderr)
      if args.warm and rounds == 0:  # keep only the second, warm pass
        profile.seconds.clear()
        profile.wall.clear()
    profile.enter("end")
  print(f"{'stage':28s}{'wall s':>9s}{'compiles':>10s}{'compile s':>11s}{'trace s':>9s}{'lower s':>9s}{'cache s':>9s}")
  for stage, wall in profile.wall.items():
    s = profile.seconds[stage]
    print(f"{stage:28s}{wall:9.2f}{int(s['compiles']):10d}{s['compile']:11.2f}{s['trace']:9.2f}{s['lower']:9.2f}"
          f"{s['cache_read']:9.2f}")
  total = {k: sum(s[k] for s in profile.seconds.values()) for k in ("compiles", "compile", "trace", "lower")}
  print(f"{'total':28s}{sum(profile.wall.values()):9.2f}{int(total['compiles']):10d}{total['compile']:11.2f}"
        f"{total['trace']:9.2f}{total['lower']:9.2f}   XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r} "
        f"jax {jax.__version__}")


if __name__ == "__main__":
  main()
