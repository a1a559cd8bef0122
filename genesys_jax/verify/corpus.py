"""Where documents come from: the bundled offline corpus, or a tfds corpus built by the user.

A corpus split is a random-access sequence of document strings (what `grain.MapDataset.source` reads).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.resources
import json
import pathlib
from collections.abc import Sequence

SPLITS = ("train", "validation", "test")
HELD_OUT_PER_MILLE = {"validation": 20, "test": 20}
"""Share of the bundled corpus's documents held out per split (by a hash of the document id)."""


class CorpusError(ValueError):
  """A corpus that cannot be read as configured."""


@functools.cache
def _bundled_records() -> tuple[tuple[str, str], ...]:
  path = importlib.resources.files("genesys_jax.third_party").joinpath("kjv", "kjv.jsonl.gz")
  with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
    return tuple((r["id"], r["text"]) for r in map(json.loads, lines))


def split_of(doc_id: str) -> str:
  """The split a bundled document belongs to: stable, from a hash of its id."""
  bucket = int(hashlib.sha256(doc_id.encode()).hexdigest(), 16) % 1000
  if bucket < HELD_OUT_PER_MILLE["test"]:
    return "test"
  if bucket < HELD_OUT_PER_MILLE["test"] + HELD_OUT_PER_MILLE["validation"]:
    return "validation"
  return "train"


def bundled_documents(split: str) -> list[str]:
  """The bundled corpus's documents in `split` (the King James Version, one chapter per document)."""
  if split not in SPLITS:
    raise CorpusError(f"unknown split {split!r}; choose from {SPLITS}")
  return [text for doc_id, text in _bundled_records() if split_of(doc_id) == split]


class TfdsDocuments(Sequence[str]):
  """Documents of a tfds dataset read through `tfds.data_source` (array_record files, random access)."""

  def __init__(self, name: str, split: str, data_dir: str, text_key: str = "text"):
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    if not data_dir or not pathlib.Path(data_dir).is_dir():
      raise CorpusError(f"tfds data_dir {data_dir!r} does not exist")
    try:
      self._source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except Exception as e:  # tfds raises many types for a dataset or split that is not there
      raise CorpusError(f"cannot open tfds dataset {name!r} split {split!r} in {data_dir!r}: "
                        f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from e
    self._text_key = text_key
    if len(self._source) and text_key not in self._source[0]:
      raise CorpusError(f"tfds dataset {name!r} has no feature {text_key!r}; "
                        f"it has {sorted(self._source[0])}")

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index):
    if isinstance(index, slice):
      return [self[i] for i in range(*index.indices(len(self)))]
    text = self._source[index][self._text_key]
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)


def documents(data_config, split: str) -> Sequence[str]:
  """The documents of `split` as `data_config` (the config's `data` section) describes."""
  if data_config.source == "bundled":
    return bundled_documents(split)
  if data_config.source == "tfds":
    return TfdsDocuments(data_config.tfds_name, data_config.tfds_splits[split], data_config.tfds_data_dir,
                         data_config.text_key)
  raise CorpusError(f"unknown data source {data_config.source!r}; choose 'bundled' or 'tfds'")
