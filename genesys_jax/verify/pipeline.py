"""grain pipelines: documents -> tokens -> packed sequences with loss weights -> batches.

Each document is `bos + tokens + eos`; documents are concatenated and split into rows of `length + 1`
tokens (grain's concat-then-split packing, which records a segment id per token). A target counts
(weight 1) only when it continues the same document as its input token: padding and the jump from one
document into the next never enter the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import grain
import numpy as np

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


def lm_dataset(docs: Sequence[str], tokenizer: Tokenizer, length: int, batch: int, *, train: bool,
               seed: int = 0, shard_index: int = 0, shard_count: int = 1) -> grain.IterDataset:
  """Batches of packed next-token examples from `docs`.

  Training data is shuffled (differently every epoch) and repeats forever; evaluation data is read
  once in order, its last batch padded with zero-weight rows. Each process reads its own shard of the
  documents (`shard_index` of `shard_count`).
  """
  if not len(docs):
    raise ValueError("the corpus split has no documents")
  ds = grain.MapDataset.source(docs)[shard_index::shard_count]
  if train:
    ds = ds.shuffle(seed=seed).repeat()
  packed = grain.experimental.ConcatThenSplitIterDataset(
      ds.map(_Encode(tokenizer)).to_iter_dataset(), length_struct={"tokens": length + 1})
  examples = packed.map(_ToExample(tokenizer.token_bytes))
  if train:
    return examples.batch(batch, drop_remainder=True)
  return examples.batch(batch).map(_PadBatch(batch))
