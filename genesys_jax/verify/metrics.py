"""Model FLOPs utilization: the devices' peak FLOP/s and the measured fraction of it."""

from __future__ import annotations

import jax

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

