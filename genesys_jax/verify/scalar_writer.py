"""TensorBoard scalars without TensorFlow: TensorBoard's own event-file writer and scalar protos.

clu's writers import TensorFlow (about 4 s of every verifier's and controller's start-up on 2 cores) to
write the same records; TensorBoard's `EventFileWriter` writes them from pure Python, queued to its own
thread. Every process logs its scalars; only process 0 writes event files (the multi-host rule).
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Mapping

import jax
from absl import logging
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.summary.writer.event_file_writer import EventFileWriter


class ScalarWriter:
  """Writes `{name: value}` scalars at a step to `logdir` (process 0) and to the log (every process)."""

  def __init__(self, logdir: str | pathlib.Path, flush_secs: float = 30):
    self._events = EventFileWriter(str(logdir), flush_secs=flush_secs) if jax.process_index() == 0 else None

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    logging.info("[%d] %s", step, ", ".join(f"{name}={float(value):.6g}" for name, value in scalars.items()))
    if self._events is None:
      return
    for name, value in scalars.items():
      self._events.add_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                             summary=scalar_pb(name, float(value))))

  def flush(self) -> None:
    if self._events is not None:
      self._events.flush()

  def close(self) -> None:
    if self._events is not None:
      self._events.close()
