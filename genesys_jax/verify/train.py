"""The training loop: dispatch a step, then read the previous step's metrics, so the host never waits
for the device inside the loop; checkpoints every N steps and on SIGTERM; NaN or divergence ends the
run as a recorded failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import pathlib
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax

from genesys_jax.distributed import any_process
from genesys_jax.files import write_text_atomic
from genesys_jax.verify.checkpoints import Checkpoints
from genesys_jax.verify.metrics import mfu
from genesys_jax.verify.scalar_writer import ScalarWriter
from genesys_jax.verify.compile_gate import CompiledSteps


@dataclasses.dataclass
class TrainOutcome:
  """How a training run ended: 'completed', 'diverged' or 'preempted' (SIGTERM; resumable)."""

  status: str
  steps: int
  message: str = ""
  final_loss: float | None = None
  tokens_per_second: float | None = None
  seconds_per_step: float | None = None
  mfu: float | None = None
  seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class LoopSettings:
  """The knobs of the loop."""

  total_steps: int
  tokens_per_step: int
  checkpoint_every: int
  log_every: int
  divergence_factor: float   # loss above this x the first step's loss (after warmup) is divergence
  warmup_steps: int


class StopFlag:
  """Set by SIGTERM (or by hand): the loop saves a checkpoint and returns 'preempted'."""

  def __init__(self):
    self._event = threading.Event()

  def set(self, *_: Any) -> None:
    self._event.set()

  def __bool__(self) -> bool:
    return self._event.is_set()


@contextlib.contextmanager
def stop_on_sigterm(flag: StopFlag):
  """Routes SIGTERM to `flag` while inside (only possible on the main thread; elsewhere a no-op)."""
  if threading.current_thread() is not threading.main_thread():
    yield flag
    return
  previous = signal.signal(signal.SIGTERM, flag.set)
  try:
    yield flag
  finally:
    signal.signal(signal.SIGTERM, previous)


class History:
  """The per-step training metrics as JSON lines, written by process 0; on resume, rows after the
  checkpoint are dropped so the curve continues from the restored step."""

  def __init__(self, path: pathlib.Path, resume_step: int):
    self.path = path
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    rows = [r for r in rows if r["step"] <= resume_step]
    self.first_loss = rows[0]["loss"] if rows else None
    self.last: dict | None = rows[-1] if rows else None
    self._file = None
    if jax.process_index() == 0:
      write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))
      self._file = path.open("a")

  def append(self, row: Mapping[str, Any]) -> None:
    self.last = dict(row)
    if self.first_loss is None:
      self.first_loss = row["loss"]
    if self._file:
      self._file.write(json.dumps(row) + "\n")

  def flush(self) -> None:
    if self._file:
      self._file.flush()

  def close(self) -> None:
    if self._file:
      self._file.close()


def train_loop(steps: CompiledSteps, data: Iterator, start_step: int, settings: LoopSettings,
               checkpoints: Checkpoints | None, checkpoint_meta: Mapping[str, Any], history: History,
               writer: ScalarWriter, stop: StopFlag,
               on_log: Callable[[int, dict[str, float]], None] | None = None) -> TrainOutcome:
  """Trains from `start_step` to `settings.total_steps`."""
  device = jax.devices()[0]
  started = time.perf_counter()
  interval_start, interval_steps, rates = started, 0, []
  pending: tuple[int, dict] | None = None
  outcome: TrainOutcome | None = None

  def settle(step: int, device_metrics: dict) -> TrainOutcome | None:
    """Reads a finished step's metrics; records them; says whether the run has failed."""
    nonlocal interval_start, interval_steps
    m = {k: float(v) for k, v in jax.device_get(device_metrics).items()}
    row = {"step": step, **{k: m[k] for k in ("loss", "learning_rate", "grad_norm", "param_norm")}}
    history.append(row)
    first_loss = history.first_loss  # the run's first step, across resumes and segments
    if step % settings.log_every == 0 or step == settings.total_steps:
      now = time.perf_counter()
      rate = interval_steps * settings.tokens_per_step / max(now - interval_start, 1e-9)
      rates.append(rate)
      interval_start, interval_steps = now, 0
      writer.write_scalars(step, {**{k: v for k, v in row.items() if k != "step"}, "tokens_per_second": rate})
      history.flush()
      if on_log:
        eta = (settings.total_steps - step) * settings.tokens_per_step / max(rate, 1e-9)
        on_log(step, {**row, "tokens_per_second": rate, "eta_seconds": eta})
    if not all(math.isfinite(m[k]) for k in ("loss", "grad_norm")):
      return TrainOutcome("diverged", step - 1, f"the loss became {m['loss']} at step {step}")
    if step > settings.warmup_steps and m["loss"] > settings.divergence_factor * first_loss:
      return TrainOutcome("diverged", step - 1, f"the loss rose to {m['loss']:.3f} at step {step}, more than "
                          f"{settings.divergence_factor}x the first step's {first_loss:.3f}")
    return None

  step = start_step
  # One host's SIGTERM stops all of them at the same step. Across processes the agreement is a collective
  # that waits for the step in flight, so it is taken every log_every steps, not every step.
  agree_every = 1 if jax.process_count() == 1 else settings.log_every
  while step < settings.total_steps:
    metrics = steps.train(next(data))
    step += 1
    interval_steps += 1
    if pending is not None and (outcome := settle(*pending)):
      break
    pending = (step, metrics)
    stopping = step % agree_every == 0 and any_process(bool(stop))
    if step % settings.checkpoint_every == 0 or step == settings.total_steps or stopping:
      outcome = settle(*pending)
      pending = None
      if outcome:
        break
      if checkpoints is not None:
        checkpoints.save(step, steps.state, data, checkpoint_meta)
      if stopping and step < settings.total_steps:
        outcome = TrainOutcome("preempted", step, "stopped by SIGTERM after saving a checkpoint")
        break
  if pending is not None and outcome is None:
    outcome = settle(*pending)
  outcome = outcome or TrainOutcome("completed", step)
  if checkpoints is not None:
    checkpoints.wait()
  history.flush()
  writer.flush()
  outcome.seconds = time.perf_counter() - started
  if rates:
    outcome.tokens_per_second = statistics.median(rates)
    outcome.seconds_per_step = settings.tokens_per_step / outcome.tokens_per_second
    outcome.mfu = mfu(steps.flops_per_step, outcome.seconds_per_step, device)
  outcome.final_loss = history.last["loss"] if history.last else None
  return outcome
