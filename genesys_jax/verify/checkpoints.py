"""Orbax checkpoints of a verification run: model and optimizer state, the data iterator and metadata.

Saved asynchronously through `ocp.CheckpointManager` with the `ocp.args` API; Orbax writes each step
to a temporary folder and renames it when complete, so a kill mid-save leaves the previous checkpoint
intact. A checkpoint that fails to restore is skipped (with a warning) for the one before it.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

import grain
import jax
import orbax.checkpoint as ocp
from absl import logging
from flax import nnx


class CheckpointError(ValueError):
  """Checkpoints that cannot be used: they belong to another run, or none of them restores."""


class Checkpoints:
  """The checkpoints of one design at one rung, kept under `directory`."""

  def __init__(self, directory: str | pathlib.Path, keep: int):
    self.directory = pathlib.Path(directory)
    self._manager = ocp.CheckpointManager(
        self.directory.absolute(), options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))
    self.warnings: list[str] = []

  def steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: nnx.State, iterator: grain.DatasetIterator, meta: Mapping[str, Any]) -> None:
    """Starts saving `step` (returns once the state is copied off the devices)."""
    self._manager.save(step, force=True, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(iterator),
        meta=ocp.args.JsonSave(dict(meta))))

  def restore_latest(self, like: nnx.State, iterator: grain.DatasetIterator,
                     fingerprint: Mapping[str, Any]) -> tuple[int, nnx.State, dict] | None:
    """The newest checkpoint that restores into arrays shaped and sharded like `like`, with the
    iterator moved to where it was; None when there is no checkpoint yet.

    Raises `CheckpointError` if the checkpoints were written by a run with another `fingerprint`, or
    if every checkpoint fails to restore.
    """
    steps = self.steps()
    if not steps:
      return None
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), like)
    for step in reversed(steps):
      try:
        meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
        if meta.get("fingerprint") != dict(fingerprint):
          raise CheckpointError(f"the checkpoints in {str(self.directory)!r} belong to a run with other "
                                f"settings ({_difference(meta.get('fingerprint') or {}, fingerprint)}); "
                                "use another workdir or delete them")
        restored = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), data=grain.checkpoint.CheckpointRestore(iterator)))
        return step, restored.state, meta
      except CheckpointError:
        raise
      except Exception as e:  # Orbax and TensorStore raise many types for damaged files
        message = f"checkpoint {step} in {str(self.directory)!r} could not be restored ({type(e).__name__}); " + (
            "trying the one before it" if step != steps[0] else "no older one is left")
        logging.warning(message)
        self.warnings.append(message)
    raise CheckpointError(f"none of the checkpoints in {str(self.directory)!r} could be restored; "
                          "delete the folder to start this verification again")

  def wait(self) -> None:
    """Blocks until the last save is on disk."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.close()


def _difference(found: Mapping[str, Any], expected: Mapping[str, Any]) -> str:
  keys = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
  return ", ".join(f"{k}: {found.get(k)!r} there, {expected.get(k)!r} now" for k in keys[:3])
