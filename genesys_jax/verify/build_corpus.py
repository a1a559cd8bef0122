"""Build a tfds corpus (array_record files) from local JSONL or text files, offline.

    python -m genesys_jax.verify.build_corpus --name my_corpus --data_dir ~/tensorflow_datasets \
        --train a.jsonl,b.jsonl --validation val.jsonl --test test.jsonl

Each JSONL line is a document `{"text": ...}`; a `.txt` file is one document. Point a config at the
result with `verify.data.source='tfds'`, `verify.data.tfds_name='my_corpus'` and
`verify.data.tfds_data_dir`. A corpus downloaded once (a SmolLM, FineWeb-Edu or C4 subset exported to
JSONL) becomes usable on machines with no network this way.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator, Sequence

from absl import flags

from genesys_jax import cli

_NAME = flags.DEFINE_string("name", None, "The tfds dataset name to create.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "The tfds data directory to write into.")
_SPLITS = {split: flags.DEFINE_list(split, [], f"Comma-separated JSONL or .txt files of the {split} split.")
           for split in ("train", "validation", "test")}
_TEXT_KEY = flags.DEFINE_string("text_key", "text", "The JSONL field that holds a document's text.")


def read_documents(paths: Sequence[str | pathlib.Path], text_key: str = "text") -> Iterator[str]:
  """The documents of `paths`, in order; ValueError (one sentence) for an unreadable file or line."""
  for path in map(pathlib.Path, paths):
    if not path.is_file():
      raise ValueError(f"corpus file {str(path)!r} does not exist")
    if path.suffix == ".txt":
      yield path.read_text(encoding="utf-8")
      continue
    with path.open(encoding="utf-8") as lines:
      for number, line in enumerate(lines, 1):
        if not line.strip():
          continue
        try:
          yield str(json.loads(line)[text_key])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
          raise ValueError(f"{path}:{number} is not a JSON object with a {text_key!r} field") from e


def build(name: str, data_dir: str | pathlib.Path, splits: dict[str, Sequence[str]], text_key: str = "text") -> None:
  """Writes the tfds dataset `name` (array_record files) with one `text` feature per document."""
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  split_docs = {split: [(i, {"text": t}) for i, t in enumerate(read_documents(paths, text_key))]
                for split, paths in splits.items() if paths}
  if not split_docs.get("train"):
    raise ValueError("the train split has no documents; pass --train FILES")
  tfds.dataset_builders.store_as_tfds_dataset(
      name=name, version="1.0.0", features=tfds.features.FeaturesDict({"text": tfds.features.Text()}),
      split_datasets=split_docs, data_dir=str(data_dir), file_format="array_record")


def main(argv: Sequence[str]) -> None:
  del argv
  if not _NAME.value or not _DATA_DIR.value:
    raise cli.UsageProblem("--name and --data_dir are required")
  try:
    build(_NAME.value, _DATA_DIR.value, {s: f.value for s, f in _SPLITS.items()}, _TEXT_KEY.value)
  except (ValueError, RuntimeError) as e:
    raise cli.UsageProblem(str(e).splitlines()[0]) from e
  print(f"built {_NAME.value} in {_DATA_DIR.value}")


if __name__ == "__main__":
  cli.run(main)
