"""Synthetic diagnostic tasks, generated on the fly: rung 0 of the ladder of scales.

A tiny model is trained on a mixture of the tasks and each task reports an accuracy next to its chance level.
Every task is a function `(rng, batch, length, vocab, **params) -> batch dict` of int32 `inputs` and `targets`
and float32 `weights`, all [batch, length]; `targets[:, t]` is the token to predict after reading
`inputs[:, :t + 1]`, and `weights` is 1 exactly where that prediction is scored. Unscored targets and padding
are the pad id. The top four ids of the vocabulary are reserved (see `vocab_ids`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

Batch = dict[str, np.ndarray]
Task = Callable[..., Batch]
TaskParams = Mapping[str, Mapping[str, Any]]  # task name -> keyword arguments of its generator

NUM_SPECIAL = 4
_TRAIN_STREAM, _HELD_OUT_STREAM = 0, 1


class Vocab(NamedTuple):
  """A diagnostic vocabulary: ids 0 to `regular - 1` carry content; the top four ids are special."""

  regular: int
  trigger: int
  noise: int
  marker: int
  pad: int


def vocab_ids(vocab: int) -> Vocab:
  """Splits `vocab` ids into content ids and the four special ones (pad is the top id)."""
  if vocab < NUM_SPECIAL + 2:
    raise ValueError(f"vocab must have at least {NUM_SPECIAL + 2} ids (4 special and 2 for content), got {vocab}.")
  return Vocab(regular=vocab - 4, trigger=vocab - 4, noise=vocab - 3, marker=vocab - 2, pad=vocab - 1)


def _unscored(batch: int, length: int, ids: Vocab) -> tuple[np.ndarray, np.ndarray]:
  """Targets all pad and weights all zero, to be filled at the scored positions."""
  return np.full((batch, length), ids.pad, np.int32), np.zeros((batch, length), np.float32)


def _as_batch(inputs_BxL: np.ndarray, targets_BxL: np.ndarray, weights_BxL: np.ndarray) -> Batch:
  """The shared batch dict with its dtypes."""
  return {"inputs": inputs_BxL.astype(np.int32), "targets": targets_BxL.astype(np.int32),
          "weights": weights_BxL.astype(np.float32)}


def _random_subsets(rng: np.random.Generator, batch: int, population: int, size: int) -> np.ndarray:
  """[batch, size] distinct indices below `population` per row, in random order."""
  return np.argsort(rng.random((batch, population)), axis=1)[:, :size]


def mqar(rng: np.random.Generator, batch: int, length: int, vocab: int, *, num_pairs: int | None = None,
         num_queries: int | None = None, power_a: float | None = None) -> Batch:
  """Multi-query associative recall (Zoology, Arora et al. 2023): `k1 v1 ... kP vP` then queries `q a`, each
  query a key of the row whose value is scored right after reading it; the rest of the row is pad.

  Keys (distinct within a row) are the lower half of the content ids, values (independent, uniform) the upper
  half. Defaults: `length // 4` pairs (at most the number of keys), every key queried once in random order.
  Queries follow the context back to back unless `power_a` is given: then, as in Zoology, the query region
  is cut into two-token slots and the queries take distinct slots drawn with p(slot i) proportional to
  i^(power_a - 1) (Zoology's 0.01 puts most queries near the context, with pad between them).
  """
  ids = vocab_ids(vocab)
  num_keys = ids.regular // 2
  pairs = max(1, min(length // 4, num_keys)) if num_pairs is None else num_pairs
  queries = pairs if num_queries is None else num_queries
  if not 1 <= pairs <= num_keys:
    raise ValueError(f"num_pairs must be between 1 and the {num_keys} distinct keys, got {pairs}.")
  if not 1 <= queries <= pairs:
    raise ValueError(f"num_queries must be between 1 and num_pairs ({pairs}), got {queries}.")
  if length < 2 * (pairs + queries):
    raise ValueError(f"length {length} is too short for {pairs} pairs and {queries} queries, "
                     f"which take {2 * (pairs + queries)} tokens.")
  if power_a is not None and not power_a > 0:
    raise ValueError(f"power_a must be positive, got {power_a}.")
  keys_BxP = _random_subsets(rng, batch, num_keys, pairs)
  values_BxP = rng.integers(num_keys, ids.regular, (batch, pairs))
  asked_BxQ = _random_subsets(rng, batch, pairs, queries)
  answers_BxQ = np.take_along_axis(values_BxP, asked_BxQ, axis=1)
  inputs_BxL = np.full((batch, length), ids.pad, np.int32)
  inputs_BxL[:, :2 * pairs] = np.stack([keys_BxP, values_BxP], axis=2).reshape(batch, 2 * pairs)
  slots = (length - 2 * pairs) // 2
  if power_a is None:
    slots_BxQ = np.broadcast_to(np.arange(queries), (batch, queries))
  else:  # Gumbel top-k: distinct slots, drawn one after another with the power-law weights
    log_p = (power_a - 1) * np.log(np.arange(1, slots + 1))
    slots_BxQ = np.argsort(-(log_p + rng.gumbel(size=(batch, slots))), axis=1)[:, :queries]
  asked_at_BxQ = 2 * pairs + 2 * slots_BxQ
  np.put_along_axis(inputs_BxL, asked_at_BxQ, np.take_along_axis(keys_BxP, asked_BxQ, axis=1), axis=1)
  np.put_along_axis(inputs_BxL, asked_at_BxQ + 1, answers_BxQ, axis=1)
  targets_BxL, weights_BxL = _unscored(batch, length, ids)
  np.put_along_axis(targets_BxL, asked_at_BxQ, answers_BxQ, axis=1)
  np.put_along_axis(weights_BxL, asked_at_BxQ, 1.0, axis=1)
  return _as_batch(inputs_BxL, targets_BxL, weights_BxL)


def selective_copying(rng: np.random.Generator, batch: int, length: int, vocab: int, *,
                      num_data: int | None = None) -> Batch:
  """Selective copying (Mamba, Gu & Dao 2023): `num_data` content tokens at random places among noise tokens,
  then one marker per data token; after reading the i-th marker the i-th data token is scored.

  Data tokens are uniform content ids; noise is the single noise id. Default: `max(1, length // 8)` data tokens.
  """
  ids = vocab_ids(vocab)
  count = max(1, length // 8) if num_data is None else num_data
  if count < 1:
    raise ValueError(f"num_data must be at least 1, got {count}.")
  if length < 2 * count:
    raise ValueError(f"length {length} is too short to copy {count} data tokens, which take {2 * count} tokens "
                     f"(a region at least as long as the data, then one marker per token).")
  region = length - count
  data_BxK = rng.integers(0, ids.regular, (batch, count))
  slots_BxK = np.sort(_random_subsets(rng, batch, region, count), axis=1)
  inputs_BxL = np.full((batch, length), ids.noise, np.int32)
  np.put_along_axis(inputs_BxL, slots_BxK, data_BxK, axis=1)
  inputs_BxL[:, region:] = ids.marker
  targets_BxL, weights_BxL = _unscored(batch, length, ids)
  targets_BxL[:, region:] = data_BxK
  weights_BxL[:, region:] = 1
  return _as_batch(inputs_BxL, targets_BxL, weights_BxL)


def induction_heads(rng: np.random.Generator, batch: int, length: int, vocab: int, *,
                    num_queries: int | None = None) -> Batch:
  """Induction heads (as in the Mamba paper): uniform content tokens in which the trigger id is followed by a
  target; the trigger again at the end asks for that target.

  The row is cut into `num_queries` equal segments (default one per 64 tokens), each with its own trigger, target
  and final query; a query's answer is the token after the most recent earlier trigger.
  """
  ids = vocab_ids(vocab)
  segments = max(1, length // 64) if num_queries is None else num_queries
  if segments < 1:
    raise ValueError(f"num_queries must be at least 1, got {segments}.")
  if length < 3 * segments:
    raise ValueError(f"length {length} is too short for {segments} induction segments of at least 3 tokens each.")
  starts_Q = np.arange(segments) * length // segments
  ends_Q = np.arange(1, segments + 1) * length // segments
  inputs_BxL = rng.integers(0, ids.regular, (batch, length)).astype(np.int32)
  triggers_BxQ = rng.integers(starts_Q, ends_Q - 2, (batch, segments))
  np.put_along_axis(inputs_BxL, triggers_BxQ, ids.trigger, axis=1)
  inputs_BxL[:, ends_Q - 1] = ids.trigger
  targets_BxL, weights_BxL = _unscored(batch, length, ids)
  targets_BxL[:, ends_Q - 1] = np.take_along_axis(inputs_BxL, triggers_BxQ + 1, axis=1)
  weights_BxL[:, ends_Q - 1] = 1
  return _as_batch(inputs_BxL, targets_BxL, weights_BxL)


TASKS: dict[str, Task] = {
    "mqar": mqar,
    "selective_copying": selective_copying,
    "induction_heads": induction_heads,
}

_CANDIDATES: dict[str, Callable[[Vocab], int]] = {
    "mqar": lambda ids: ids.regular - ids.regular // 2,
    "selective_copying": lambda ids: ids.regular,
    "induction_heads": lambda ids: ids.regular,
}


def _task(name: str) -> Task:
  """The task called `name`, or a ValueError naming the known ones."""
  if name not in TASKS:
    raise ValueError(f"Unknown diagnostic task {name!r}; the tasks are {', '.join(TASKS)}.")
  return TASKS[name]


def mixture_batches(names: Sequence[str], seed: int, batch: int, length: int, vocab: int,
                    params: TaskParams = {}) -> Iterator[Batch]:
  """Endless training batches mixing the tasks `names` (each with its `params`, default ones otherwise): row i
  comes from task `names[i % len(names)]`, so every batch holds every task. Deterministic given `seed`."""
  tasks = [functools.partial(_task(name), **params.get(name, {})) for name in names]
  if not tasks:
    raise ValueError("A mixture needs at least one task.")
  if batch < len(tasks):
    raise ValueError(f"batch {batch} is too small to hold one row of each of the {len(tasks)} tasks.")
  rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_TRAIN_STREAM,)))
  return _mixture(tasks, rng, batch, length, vocab)


def _mixture(tasks: list[Task], rng: np.random.Generator, batch: int, length: int, vocab: int) -> Iterator[Batch]:
  """The generator behind `mixture_batches`, once its arguments are checked."""
  n = len(tasks)
  while True:
    parts = [task(rng, len(range(k, batch, n)), length, vocab) for k, task in enumerate(tasks)]
    mixed = {key: np.empty((batch, length), rows.dtype) for key, rows in parts[0].items()}
    for k, part in enumerate(parts):
      for key, rows in part.items():
        mixed[key][k::n] = rows
    yield mixed


def task_batches(name: str, seed: int, n: int, batch: int, length: int, vocab: int,
                 params: TaskParams = {}) -> list[Batch]:
  """`n` held-out batches of task `name` (its `params`, default ones otherwise), from a seed stream disjoint
  from the training mixture's and from the other tasks' held-out streams."""
  task = functools.partial(_task(name), **params.get(name, {}))
  stream = np.random.SeedSequence(seed, spawn_key=(_HELD_OUT_STREAM, list(TASKS).index(name)))
  rng = np.random.default_rng(stream)
  return [task(rng, batch, length, vocab) for _ in range(n)]


def chance_accuracy(name: str, length: int, vocab: int, **params: Any) -> float:
  """Accuracy of guessing uniformly among the task's candidate answers (its random baseline); checks the
  arguments by building one row."""
  _one_row(name, length, vocab, **params)
  return 1.0 / _CANDIDATES[name](vocab_ids(vocab))


def scored_per_row(name: str, length: int, vocab: int, **params: Any) -> int:
  """How many positions a row of the task scores (fixed by its arguments); checks them by building a row."""
  return int(_one_row(name, length, vocab, **params)["weights"].sum())


def _one_row(name: str, length: int, vocab: int, **params: Any) -> Batch:
  """One row of the task: its generator raises ValueError for arguments out of range."""
  return _task(name)(np.random.default_rng(0), 1, length, vocab, **params)
