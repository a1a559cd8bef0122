"""Run-level TensorBoard scalars: best and median fitness, designs per rung, sessions and LLM spend.

Written to `<workdir>/tensorboard/run` whenever a session or a verification finishes; the step is the
number of finished sessions plus verifications, so a resumed run continues the same curves.
"""

from __future__ import annotations

import pathlib
import statistics
from collections import Counter

import ml_collections

from genesys_jax.evolve.progress import Snapshot
from genesys_jax.verify.scalar_writer import ScalarWriter

LOGDIR = "tensorboard/run"


class RunScalars:
  """Writes the run's scalars when its progress step moves."""

  def __init__(self, workdir: pathlib.Path, e: ml_collections.ConfigDict):
    self._writer = ScalarWriter(workdir / LOGDIR)
    self._rungs = tuple(e.rungs)
    self._last_step = -1

  def update(self, s: Snapshot) -> None:
    step = s.sessions_finished + len(s.verifications)
    if step == self._last_step:
      return
    self._last_step = step
    self._writer.write_scalars(step, scalars(s, self._rungs))
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()


def scalars(s: Snapshot, rungs: tuple[str, ...]) -> dict[str, float]:
  """The run's figures at snapshot `s`."""
  seeds = {r.id for r in s.rows if r.seed}
  ratings = [s.ranking.rating[v.id] for v in s.views if v.results and not v.seed]
  status = Counter(r.status for r in s.rows if not r.seed)
  verified = Counter(v.rung for v in s.verifications if v.design_id not in seeds)
  out = {"run/sessions": s.sessions_finished, "run/accepted": status["implemented"],
         "run/rejected": status["rejected"], "run/duplicates": status["duplicate"], "run/llm_spend_usd": s.spend_usd}
  out.update({f"run/verified/{rung}": verified[rung] for rung in rungs})
  if ratings:
    out.update({"run/best_fitness": max(ratings), "run/median_fitness": statistics.median(ratings)})
  return out
