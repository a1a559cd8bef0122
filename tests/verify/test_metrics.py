"""Held-out metric arithmetic, MFU and the TensorBoard writer."""

import math

import numpy as np
import pytest

from genesys_jax.verify import evaluate, metrics


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


def test_writer_writes_tensorboard_events(tmp_path):
  writer = metrics.create_writer(tmp_path)
  writer.write_scalars(1, {"loss": 1.0})
  writer.close()
  assert list(tmp_path.glob("events.out.tfevents.*"))
