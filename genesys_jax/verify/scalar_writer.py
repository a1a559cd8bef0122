"""TensorBoard scalars without TensorFlow: TensorBoard's record format and scalar protos, written here.

clu's writers, and TensorBoard's own `EventFileWriter` (through `tensorboard.compat.tf`), import
TensorFlow when it is installed: about 4 s of every verifier's and controller's start-up on 2 cores, to
append a few records. TensorBoard's `RecordWriter` frames the same records from pure Python. Every
process logs its scalars; only process 0 writes the event file (the multi-host rule).
"""

from __future__ import annotations

import os
import pathlib
import socket
import time
from collections.abc import Mapping

import jax
from absl import logging
from etils import epath
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.summary.writer.record_writer import RecordWriter


class ScalarWriter:
  """Writes `{name: value}` scalars at a step to an event file in `logdir` (process 0) and to the log."""

  def __init__(self, logdir: str | pathlib.Path):
    self._records: RecordWriter | None = None
    if jax.process_index() == 0:
      folder = epath.Path(logdir)
      folder.mkdir(parents=True, exist_ok=True)
      now = time.time()
      name = f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}.{time.time_ns()}"
      self._records = RecordWriter((folder / name).open("wb"))
      self._write(event_pb2.Event(wall_time=now, file_version="brain.Event:2"))

  def _write(self, event: event_pb2.Event) -> None:
    self._records.write(event.SerializeToString())

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    logging.info("[%d] %s", step, ", ".join(f"{name}={float(value):.6g}" for name, value in scalars.items()))
    if self._records is None:
      return
    for name, value in scalars.items():
      self._write(event_pb2.Event(wall_time=time.time(), step=int(step), summary=scalar_pb(name, float(value))))

  def flush(self) -> None:
    if self._records is not None:
      self._records.flush()

  def close(self) -> None:
    if self._records is not None:
      self._records.close()
      self._records = None
