"""grain pipelines: documents -> tokens -> packed sequences with loss weights -> batches.

Each document is `bos + tokens + eos`; documents are concatenated and split into rows of `length + 1`
tokens (grain's concat-then-split packing, which records a segment id per token). A target counts
(weight 1) only when it continues the same document as its input token: padding and the jump from one
document into the next never enter the loss.

Off the training thread: grain's read threads encode documents ahead, and with `prefetch` a background
thread packs and batches that many batches ahead; the iterator's checkpointed state is still that of the
last batch the trainer took. One Python thread packs about 0.7M SentencePiece tokens/s
(`benchmarks/verify_io.py`), far below what a 14M step on an accelerator consumes: `workers` processes
(grain's `mp_prefetch`) each encode, pack and batch a slice of the documents, their batches taken in turn.
The stream then depends on the number of workers (deterministic for a given number).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence

import grain
import numpy as np
from absl import flags

from genesys_jax.verify.tokenizer import Tokenizer

Batch = dict[str, np.ndarray]
"""`inputs`, `targets` (int32 [B, L]), `weights` (float32 [B, L]), `target_bytes` (int32 [B, L])."""


class _Encode(grain.transforms.Map):
  """A document string -> `{"tokens": bos + ids + eos}`."""

  def __init__(self, tokenizer: Tokenizer):
    self._tokenizer = tokenizer

  def map(self, text: str) -> dict[str, np.ndarray]:
    ids = self._tokenizer.encode(text)
    return {"tokens": np.concatenate([[self._tokenizer.bos_id], ids, [self._tokenizer.eos_id]]).astype(np.int32)}


class _ToExample(grain.transforms.Map):
  """A packed row of `length + 1` tokens -> inputs, targets and their loss weights."""

  def __init__(self, token_bytes: np.ndarray):
    self._token_bytes = token_bytes

  def map(self, packed: dict[str, np.ndarray]) -> Batch:
    tokens, segments = packed["tokens"], packed["tokens_segment_ids"]
    same_document = (segments[1:] != 0) & (segments[1:] == segments[:-1])
    targets = tokens[1:]
    return {"inputs": tokens[:-1], "targets": targets, "weights": same_document.astype(np.float32),
            "target_bytes": self._token_bytes[targets] * same_document}


class _PadBatch(grain.transforms.Map):
  """Pads a short final batch with zero-weight rows so every batch has the same shape."""

  def __init__(self, batch: int):
    self._batch = batch

  def map(self, batch: Batch) -> Batch:
    missing = self._batch - batch["inputs"].shape[0]
    if not missing:
      return batch
    return {k: np.concatenate([v, np.zeros((missing,) + v.shape[1:], v.dtype)]) for k, v in batch.items()}


def concatenate(parts: Sequence[Batch]) -> Batch:
  """Batches (one per shard) -> one batch, the shards' rows one after another."""
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class _Concatenate(grain.transforms.Map):
  def map(self, parts: tuple[Batch, ...]) -> Batch:
    return concatenate(parts)


def lm_dataset(docs: Sequence[str], tokenizer: Tokenizer, length: int, batch: int, *, train: bool,
               seed: int = 0, shards: Sequence[int] = (0,), shard_count: int = 1,
               prefetch: int = 0, workers: int = 0) -> grain.IterDataset:
  """Batches of packed next-token examples from `docs`.

  Training data is shuffled (differently every epoch) and repeats forever; evaluation data is read
  once in order, its last batch padded with zero-weight rows. The documents are split into `shard_count`
  shards (every shard_count-th one); this process reads `shards` of them, and each of its batches holds
  `batch / len(shards)` rows of each, one shard after another. A global batch is then the same for any
  number of processes that reads the same shards in all. With `prefetch`, a background thread prepares
  that many batches ahead; with `workers`, that many processes do (`prefetch` is then their buffer).
  """
  if batch % len(shards):
    raise ValueError(f"a batch of {batch} rows cannot be split evenly over {len(shards)} data shards")
  parts = [_shard_dataset(docs, tokenizer, length, batch // len(shards), train, seed, s, shard_count)
           for s in shards]
  ds = parts[0] if len(parts) == 1 else grain.experimental.ZipIterDataset(parts).map(_Concatenate())
  if workers:
    if not flags.FLAGS.is_parsed():  # grain's worker processes read absl flags; outside an absl program
      flags.FLAGS.mark_as_parsed()   # (tests, the sandboxed job) the defaults stand
    return ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers,
                                                       per_worker_buffer_size=max(1, prefetch)))
  return grain.experimental.ThreadPrefetchIterDataset(ds, prefetch_buffer_size=prefetch) if prefetch else ds


def _shard_dataset(docs: Sequence[str], tokenizer: Tokenizer, length: int, batch: int, train: bool, seed: int,
                   shard_index: int, shard_count: int) -> grain.IterDataset:
  if not len(range(shard_index, len(docs), shard_count)):
    raise ValueError("the corpus split has no documents" if not len(docs) else
                     f"the corpus split has fewer documents ({len(docs)}) than data shards ({shard_count})")
  ds = grain.MapDataset.source(docs)[shard_index::shard_count]
  if train:
    ds = ds.shuffle(seed=seed).repeat()
  packed = grain.experimental.ConcatThenSplitIterDataset(
      ds.map(_Encode(tokenizer)).to_iter_dataset(), length_struct={"tokens": length + 1})
  examples = packed.map(_ToExample(tokenizer.token_bytes))
  if train:
    return examples.batch(batch, drop_remainder=True)
  return examples.batch(batch).map(_PadBatch(batch))


def exactly(batches: Iterable[Mapping[str, np.ndarray]], n: int) -> Iterator[Mapping[str, np.ndarray]]:
  """`n` batches: those of `batches`, then zero-weight copies of the last one if they run out (so all
  hosts of a multi-host run take the same number of evaluation steps)."""
  last = None
  for last in itertools.islice(batches, n):
    yield last
    n -= 1
  if last is not None:
    empty = {k: np.zeros_like(v) for k, v in last.items()}
    for _ in range(n):
      yield empty


def evaluation_batches(docs: Sequence[str], tokenizer: Tokenizer, length: int, batch: int, n: int, *,
                       shards: Sequence[int] = (0,), shard_count: int = 1) -> Iterator[Batch]:
  """At most `n` evaluation batches of `docs` (`lm_dataset`'s shards). Where the documents are split into
  shards, exactly `n`: each shard's rows go on as zero-weight rows once it runs out, so every process takes
  the same number of steps and the rows are those of any other split of the same shards over processes."""
  if shard_count == 1:
    yield from itertools.islice(lm_dataset(docs, tokenizer, length, batch, train=False), n)
    return
  if batch % len(shards):
    raise ValueError(f"a batch of {batch} rows cannot be split evenly over {len(shards)} data shards")
  parts = [exactly(lm_dataset(docs, tokenizer, length, batch // len(shards), train=False, shards=(s,),
                              shard_count=shard_count), n) for s in shards]
  for rows in zip(*parts):
    yield concatenate(rows)
