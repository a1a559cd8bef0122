"""Held-out metric arithmetic, MFU and the TensorBoard scalar writer."""

import math
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from genesys_jax.verify import evaluate, metrics
from genesys_jax.verify.scalar_writer import ScalarWriter


def test_bits_per_byte_divides_nats_by_scored_bytes():
  sums = [{"loss_sum": np.float32(10.0), "weight_sum": np.float32(4.0), "byte_sum": np.float32(8.0),
           "correct_sum": np.float32(1.0)},
          {"loss_sum": np.float32(6.0), "weight_sum": np.float32(4.0), "byte_sum": np.float32(8.0),
           "correct_sum": np.float32(3.0)}]
  out = evaluate.language_model_metrics(lambda batch: sums[batch], [0, 1, 0], max_batches=2)
  assert out["loss"] == pytest.approx(2.0) and out["perplexity"] == pytest.approx(math.e ** 2)
  assert out["bits_per_byte"] == pytest.approx(16.0 / math.log(2) / 16.0)
  assert out["accuracy"] == pytest.approx(0.5) and out["tokens"] == 8
  with pytest.raises(ValueError, match="no batches"):
    evaluate.language_model_metrics(lambda batch: sums[batch], [])


class _Device:
  def __init__(self, kind):
    self.device_kind = kind


def test_mfu_uses_the_known_peak_and_is_none_on_cpu():
  assert metrics.mfu(989e12 * 0.5, 1.0, _Device("NVIDIA H100 80GB HBM3")) == pytest.approx(0.5)
  assert metrics.peak_flops(_Device("TPU v5 lite")) == 197e12
  assert metrics.mfu(1e9, 1.0, _Device("cpu")) is None


def test_writer_writes_scalars_tensorboard_reads_without_tensorflow(tmp_path):
  writer = ScalarWriter(tmp_path)
  writer.write_scalars(1, {"loss": 1.5, "learning_rate": 0.01})
  writer.write_scalars(2, {"loss": 1.25})
  writer.close()
  events = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
  events.Reload()
  assert [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events.Tensors("loss")] == [
      (1, 1.5), (2, 1.25)]
  assert events.SummaryMetadata("loss").plugin_data.plugin_name == "scalars"  # TensorBoard's scalar charts


def test_verifiers_and_the_controller_start_and_write_scalars_without_tensorflow(tmp_path):
  """TensorFlow costs seconds of every process's start-up; only tensorflow-datasets may load it."""
  probe = ("import sys, genesys_jax.verify.run, genesys_jax.evolve.controller, genesys_jax.evolve.worker\n"
           "from genesys_jax.verify.scalar_writer import ScalarWriter\n"
           f"writer = ScalarWriter({str(tmp_path)!r})\n"
           "writer.write_scalars(1, {'loss': 1.0}); writer.close()\n"
           "print('tensorflow' in sys.modules)")
  assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                        check=True).stdout.strip() == "False"
