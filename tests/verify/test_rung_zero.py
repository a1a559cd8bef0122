"""Rung 0 trained in segments: held-out checks every `eval_every` steps, an early stop once every task is
solved, and the run's first loss (not a segment's) as the divergence reference."""

import json

import jax
import pytest

from genesys_jax.gau.composer import ModelConfig
from genesys_jax.gau.sharding import make_mesh
from genesys_jax.units.seeds import seed_design
from genesys_jax.verify import settings
from genesys_jax.verify.rung_zero import train_on_tasks
from genesys_jax.verify.train import History

from tests.verify.conftest import tiny_config


def _train(tmp_path, **diagnostics):
  c = tiny_config()
  c.diagnostics.update(tasks=("mqar",), length=16, vocab=24, batch=8, steps=12, eval_every=4, **diagnostics)
  c.diagnostics.mqar.num_pairs = 2
  return train_on_tasks(seed_design("gpt2").materialize(), ModelConfig(32, 1, 24), c,
                        make_mesh({"data": 1}, jax.devices()[:1]), settings.sharding_rules(c), tmp_path)


def test_every_segment_is_scored_held_out(tmp_path):
  result = _train(tmp_path, stop_accuracy=1.0)
  assert result["status"] == "completed" and result["steps"] == 12
  assert [p["step"] for p in result["curve"]] == [4, 8, 12]
  assert result["tasks"]["mqar"]["accuracy"] == result["curve"][-1]["mqar"]
  assert result["tasks"]["mqar"]["chance"] == pytest.approx(1 / 10)
  rows = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
  assert [r["step"] for r in rows] == list(range(1, 13))


def test_an_easy_bar_stops_after_the_first_check(tmp_path):
  result = _train(tmp_path, stop_accuracy=1e-9)
  assert result["steps"] == 4 and len(result["curve"]) == 1


def test_without_a_bar_it_trains_once_to_the_end(tmp_path):
  result = _train(tmp_path)
  assert result["steps"] == 12 and [p["step"] for p in result["curve"]] == [12]


def test_the_divergence_reference_is_the_runs_first_loss_not_a_segments(tmp_path):
  history = History(tmp_path / "history.jsonl", resume_step=0)
  assert history.first_loss is None
  history.append({"step": 1, "loss": 5.0})
  history.append({"step": 2, "loss": 0.1})  # a later segment's loop starts here and reads first_loss
  assert history.first_loss == 5.0
  history.close()
  assert History(tmp_path / "history.jsonl", resume_step=2).first_loss == 5.0
