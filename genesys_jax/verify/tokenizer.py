"""Tokenizers: byte-level by default (no files), SentencePiece model files for real runs.

Every tokenizer knows how many UTF-8 bytes each token stands for (`token_bytes`), so losses convert
to bits per byte whatever the vocabulary.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable
from typing import Protocol

import numpy as np

from genesys_jax.gau.scales import BYTE_VOCAB_SIZE


class Tokenizer(Protocol):
  """Text <-> token ids, with the special ids the data pipeline needs."""

  vocab_size: int
  pad_id: int
  bos_id: int
  eos_id: int

  def encode(self, text: str) -> np.ndarray: ...
  def decode(self, ids: Iterable[int]) -> str: ...
  @property
  def token_bytes(self) -> np.ndarray: ...


class ByteTokenizer:
  """UTF-8 bytes are ids 0-255; then pad, bos, eos and one spare id (260 in all)."""

  vocab_size = BYTE_VOCAB_SIZE
  pad_id, bos_id, eos_id = 256, 257, 258

  def encode(self, text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32)

  def decode(self, ids: Iterable[int]) -> str:
    return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", errors="replace")

  @property
  def token_bytes(self) -> np.ndarray:
    """1 for each byte id, 0 for the special ids."""
    return (np.arange(self.vocab_size) < 256).astype(np.int32)


class SentencePieceTokenizer:
  """A SentencePiece model file; its pad, bos and eos ids must be defined."""

  def __init__(self, model_file: str | pathlib.Path):
    import sentencepiece as spm  # pylint: disable=import-outside-toplevel
    path = pathlib.Path(model_file)
    if not path.is_file():
      raise FileNotFoundError(f"SentencePiece model {str(path)!r} does not exist")
    self._sp = spm.SentencePieceProcessor(model_file=str(path))
    self.vocab_size = int(self._sp.get_piece_size())
    self.pad_id, self.bos_id, self.eos_id = self._sp.pad_id(), self._sp.bos_id(), self._sp.eos_id()
    if min(self.pad_id, self.bos_id, self.eos_id) < 0:
      raise ValueError(f"SentencePiece model {str(path)!r} must define pad, bos and eos ids "
                       "(train it with --pad_id, --bos_id, --eos_id)")
    self._token_bytes = np.array([self._piece_bytes(i) for i in range(self.vocab_size)], np.int32)

  def _piece_bytes(self, i: int) -> int:
    if self._sp.is_control(i) or self._sp.is_unknown(i):
      return 0
    if self._sp.is_byte(i):
      return 1
    return len(self._sp.id_to_piece(i).replace("\u2581", " ").encode("utf-8"))

  def encode(self, text: str) -> np.ndarray:
    return np.asarray(self._sp.encode(text), dtype=np.int32)

  def decode(self, ids: Iterable[int]) -> str:
    return self._sp.decode([int(i) for i in ids])

  @property
  def token_bytes(self) -> np.ndarray:
    return self._token_bytes


def train_sentencepiece(texts: Iterable[str], model_prefix: str | pathlib.Path, vocab_size: int) -> pathlib.Path:
  """Trains a byte-fallback BPE SentencePiece model on `texts`; returns the `.model` path.

  No normalization and no dummy prefix, so decoding gives back the exact text and `token_bytes` sums
  to its UTF-8 length.
  """
  import sentencepiece as spm  # pylint: disable=import-outside-toplevel
  spm.SentencePieceTrainer.train(
      sentence_iterator=iter(texts), model_prefix=str(model_prefix), vocab_size=vocab_size,
      model_type="bpe", byte_fallback=True, character_coverage=1.0, pad_id=0, unk_id=1, bos_id=2,
      eos_id=3, add_dummy_prefix=False, remove_extra_whitespaces=False, normalization_rule_name="identity",
      minloglevel=2, num_threads=1)
  return pathlib.Path(f"{model_prefix}.model")


def make_tokenizer(kind: str, model_file: str | None = None) -> Tokenizer:
  """'byte' or 'sentencepiece' (with `model_file`)."""
  if kind == "byte":
    return ByteTokenizer()
  if kind == "sentencepiece":
    if not model_file:
      raise ValueError("tokenizer 'sentencepiece' needs data.tokenizer_model set to a .model file")
    return SentencePieceTokenizer(model_file)
  raise ValueError(f"unknown tokenizer {kind!r}; choose 'byte' or 'sentencepiece'")
