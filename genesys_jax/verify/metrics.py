"""Metric writing for verification runs: clu writers to TensorBoard (process 0 only), and MFU."""

from __future__ import annotations

import pathlib

import jax
from clu import metric_writers

PEAK_FLOPS_PER_DEVICE: dict[str, float] = {
    # bfloat16 dense matmul peaks from the vendors' data sheets, keyed by a substring of device_kind.
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L4": 121e12,
    "TPU v6": 918e12,
    "TPU v5p": 459e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v4": 275e12,
}


def peak_flops(device: jax.Device) -> float | None:
  """The device's peak bfloat16 FLOP/s where known (not for CPUs)."""
  for name, flops in PEAK_FLOPS_PER_DEVICE.items():
    if name in device.device_kind:
      return flops
  return None


def mfu(flops_per_step_per_device: float | None, seconds_per_step: float, device: jax.Device) -> float | None:
  """Model FLOPs utilization: XLA's FLOPs of the compiled step over what the device could do."""
  peak = peak_flops(device)
  if not peak or not flops_per_step_per_device or seconds_per_step <= 0:
    return None
  return flops_per_step_per_device / seconds_per_step / peak


def create_writer(logdir: str | pathlib.Path) -> metric_writers.MetricWriter:
  """TensorBoard summaries in `logdir` from process 0; the other processes only log."""
  return metric_writers.create_default_writer(str(logdir), just_logging=jax.process_index() > 0,
                                              asynchronous=True)
