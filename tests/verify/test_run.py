"""`verify()` end to end at toy sizes: results, baselines, resume, failures recorded as results."""

import json

import numpy as np
import pytest

from genesys_jax.units.seeds import seed_design
from genesys_jax.verify.checkpoints import CheckpointError
from genesys_jax.verify.run import run_directory, verify
from genesys_jax.verify.train import StopFlag

from tests.verify.conftest import tiny_config


def _stop_at(step: int):
  flag = StopFlag()
  return flag, lambda s, row: flag.set() if s >= step else None


def _losses(out):
  return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


def test_verify_trains_evaluates_and_records_everything(tmp_path):
  design = seed_design("gpt2")
  c = tiny_config(max_steps=16)
  c.eval.task_files = ("tests/verify/fixtures/choices.jsonl",)
  result = verify(design, "micro1", tmp_path, c)
  out = run_directory(tmp_path, design, "micro1")
  assert result["status"] == "completed" and result["train"]["steps"] == 16
  assert json.loads((out / "results.json").read_text())["eval"] == result["eval"]
  val, untrained = result["eval"]["validation"], result["random_init"]["validation"]
  assert val["bits_per_byte"] < untrained["bits_per_byte"] - 1.0
  assert set(result["eval"]) == {"validation", "test", "tasks"}
  assert 0 <= result["eval"]["tasks"]["choices"]["acc"] <= 1
  assert set(result["diagnostics"]["tasks"]) == {"mqar", "selective_copying", "induction_heads"}
  assert all(0 <= m["chance"] < 0.1 for m in result["diagnostics"]["tasks"].values())
  assert [r["step"] for r in _losses(out)] == list(range(1, 17))
  assert list((out / "tensorboard").glob("events.out.tfevents.*"))
  assert sorted(p.name for p in (out / "checkpoints").iterdir() if p.name.isdigit()) == ["12", "16"]  # keep 2
  assert result["budget"]["tokens"] == 16 * 8 * 128
  assert (result["train"]["micro_batch"], result["train"]["accumulation_steps"]) == (8, 1)  # it fits whole
  before = (out / "history.jsonl").stat().st_mtime_ns
  assert verify(design, "micro1", tmp_path, c) == result  # finished: read back, not retrained
  assert (out / "history.jsonl").stat().st_mtime_ns == before


def test_a_preempted_run_resumes_exactly_where_it_stopped(tmp_path):
  design, c = seed_design("gpt2"), tiny_config()
  c.diagnostics.enabled = False
  whole = verify(design, "micro1", tmp_path / "whole", c)
  stop, on_log = _stop_at(6)
  first = verify(design, "micro1", tmp_path / "split", c, stop=stop, on_log=on_log)
  stopped_at = first["train"]["steps"]  # the step in flight when the flag was seen
  assert first["status"] == "preempted" and 6 <= stopped_at < 12
  assert not (run_directory(tmp_path / "split", design, "micro1") / "results.json").exists()
  second = verify(design, "micro1", tmp_path / "split", c)
  assert second["status"] == "completed" and second["resumed_from"] == stopped_at
  split_rows = _losses(run_directory(tmp_path / "split", design, "micro1"))
  whole_rows = _losses(run_directory(tmp_path / "whole", design, "micro1"))
  assert [r["step"] for r in split_rows] == list(range(1, 13))
  np.testing.assert_allclose([r["loss"] for r in split_rows], [r["loss"] for r in whole_rows], rtol=1e-6)
  assert second["eval"]["validation"]["loss"] == pytest.approx(whole["eval"]["validation"]["loss"], rel=1e-6)


def test_a_stop_before_training_begins_is_taken_before_the_compile(tmp_path):
  """A verifier stopped while its verification starts (compiling can take minutes on a busy host) gives
  the job back at once instead of compiling and evaluating first."""
  design, c = seed_design("gpt2"), tiny_config(max_steps=4)
  c.diagnostics.enabled = False
  stop = StopFlag()
  stop.set()
  first = verify(design, "micro1", tmp_path, c, stop=stop)
  out = run_directory(tmp_path, design, "micro1")
  assert first["status"] == "preempted" and "train" not in first
  assert not (out / "results.json").exists() and not (out / "history.jsonl").exists()
  assert verify(design, "micro1", tmp_path, c)["status"] == "completed"


def test_a_corrupt_latest_checkpoint_falls_back_to_the_one_before(tmp_path):
  design, c = seed_design("gpt2"), tiny_config()
  c.diagnostics.enabled = False
  c.checkpoint.keep = 3
  stop, on_log = _stop_at(9)
  latest = verify(design, "micro1", tmp_path, c, stop=stop, on_log=on_log)["train"]["steps"]
  checkpoints = run_directory(tmp_path, design, "micro1") / "checkpoints"
  assert sorted(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit()) == [4, 8, latest]
  for f in (checkpoints / str(latest) / "state").rglob("*"):
    if f.is_file() and f.stat().st_size > 0:
      f.write_bytes(b"\0" * 7)
  result = verify(design, "micro1", tmp_path, c)
  assert result["status"] == "completed" and result["resumed_from"] == 8
  assert f"checkpoint {latest}" in result["checkpoint_warnings"][0]


def test_checkpoints_of_other_settings_are_refused(tmp_path):
  design, c = seed_design("gpt2"), tiny_config()
  c.diagnostics.enabled = False
  stop, on_log = _stop_at(4)
  verify(design, "micro1", tmp_path, c, stop=stop, on_log=on_log)
  with pytest.raises(CheckpointError, match="belong to a run with other settings .*learning_rate"):
    verify(design, "micro1", tmp_path, tiny_config(learning_rate=1e-4))


def test_divergence_is_a_recorded_failure_not_a_crash(tmp_path):
  design, c = seed_design("gpt2"), tiny_config(learning_rate=30.0, max_steps=30)
  c.train.warmup_fraction = 0.0
  result = verify(design, "micro1", tmp_path, c)
  assert result["status"] == "diverged" and "loss" in result["message"]
  assert "eval" not in result
  assert json.loads((run_directory(tmp_path, design, "micro1") / "results.json").read_text())["status"] == "diverged"


def test_a_model_that_does_not_fit_is_recorded_before_training(tmp_path):
  design, c = seed_design("gpt2"), tiny_config(memory_fraction=1e-9)
  result = verify(design, "micro1", tmp_path, c)
  assert result["status"] == "does_not_fit" and "GiB" in result["message"]
  assert result["memory"]["needed_bytes"] > result["memory"]["limit_bytes"] * 1e-9
  assert result["memory"]["micro_batch"] == 1 and "8" in result["memory"]["tried"]  # accumulation was tried
  assert not (run_directory(tmp_path, design, "micro1") / "checkpoints").exists()


def test_accumulating_micro_batches_trains_the_same_run(tmp_path):
  design = seed_design("gpt2")
  runs = {}
  for micro in (0, 2):
    c = tiny_config(max_steps=4, micro_batch=micro)
    c.diagnostics.enabled = False
    runs[micro] = verify(design, "micro1", tmp_path / str(micro), c)
  assert runs[2]["train"]["accumulation_steps"] == 4 and runs[0]["train"]["accumulation_steps"] == 1
  assert runs[2]["fingerprint"] == runs[0]["fingerprint"]  # the same verification, its checkpoints shared
  np.testing.assert_allclose(runs[2]["train"]["final_loss"], runs[0]["train"]["final_loss"], rtol=1e-5)


def test_worker_processes_feed_a_run_that_resumes_where_it_stopped(tmp_path):
  design, c = seed_design("gpt2"), tiny_config(max_steps=8)
  c.diagnostics.enabled, c.data.workers = False, 2
  whole = verify(design, "micro1", tmp_path / "whole", c)
  stop, on_log = _stop_at(2)
  first = verify(design, "micro1", tmp_path / "split", c, stop=stop, on_log=on_log)
  assert first["status"] == "preempted"
  second = verify(design, "micro1", tmp_path / "split", c)
  assert second["status"] == "completed" and ":workers=2" in second["fingerprint"]["data"]
  split = [r["loss"] for r in _losses(run_directory(tmp_path / "split", design, "micro1"))]
  np.testing.assert_allclose(split, [r["loss"] for r in _losses(run_directory(tmp_path / "whole", design, "micro1"))],
                             rtol=1e-6)


def test_a_diagnostics_failure_is_recorded_beside_the_finished_verification(tmp_path):
  design, c = seed_design("gpt2"), tiny_config(max_steps=4)
  c.diagnostics.vocab = 100_000   # more token ids than the rung's model has: rung 0 cannot run
  result = verify(design, "micro1", tmp_path, c)
  assert result["status"] == "completed" and "validation" in result["eval"]
  assert result["diagnostics"]["status"] == "error" and "vocabulary" in result["diagnostics"]["message"]
  assert verify(design, "micro1", tmp_path, c) == result  # recorded, not retried


# the checker trains every seed too (tests/check/test_checker.py); here the slowest three run with --runslow
@pytest.mark.parametrize("seed", ["mamba2", *(pytest.param(s, marks=pytest.mark.slow) for s in ("retnet", "rwkv6", "ttt"))])
def test_every_seed_verifies(tmp_path, seed):
  c = tiny_config(max_steps=6)
  c.diagnostics.enabled = False
  result = verify(seed_design(seed), "micro1", tmp_path, c)
  assert result["status"] == "completed"
  assert result["eval"]["validation"]["bits_per_byte"] < result["random_init"]["validation"]["bits_per_byte"]
