"""Run-level TensorBoard scalars from the store: best and median fitness, verified per rung, spend."""

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from evolve.test_controller import _config, _verify, run  # noqa: F401 (run is a fixture)
from genesys_jax.evolve.controller import Controller
from genesys_jax.evolve.run_scalars import LOGDIR, RunScalars, scalars


def test_scalars_follow_the_run_and_land_in_tensorboard(run, tmp_path):  # noqa: F811
  store, seed, designs = run
  config = _config()
  controller = Controller(tmp_path, config, store)
  written = RunScalars(tmp_path, config.evolve)
  written.update(controller.snapshot())
  before = scalars(controller.snapshot(), tuple(config.evolve.rungs))
  assert before["run/accepted"] == 8 and before["run/verified/micro1"] == 0 and "run/best_fitness" not in before
  for k, design in enumerate(designs[:3]):
    _verify(store, design, "micro1", 3.0 + k)
  written.update(controller.snapshot())
  written.update(controller.snapshot())  # no progress, no new point
  written.close()
  after = scalars(controller.snapshot(), tuple(config.evolve.rungs))
  assert after["run/verified/micro1"] == 3 and after["run/best_fitness"] > after["run/median_fitness"]
  events = EventAccumulator(str(tmp_path / LOGDIR), size_guidance={"tensors": 0})
  events.Reload()
  best = events.Tensors("run/best_fitness")
  assert len(best) == 1 and best[0].step == 8 + 1 + 3  # sessions + the seed's and three designs' verifications
  assert [e.step for e in events.Tensors("run/verified/micro1")] == [9, 12]
