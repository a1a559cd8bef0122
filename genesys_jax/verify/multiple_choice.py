"""Zero-shot multiple-choice evaluation scored by log-likelihood, in the manner of lm-evaluation-harness.

Each option of a question is a (context, continuation) pair; the model's summed log-probability of the
continuation tokens given the context ranks the options (`acc`), and so does that sum divided by the
continuation's UTF-8 length (`acc_norm`). A question with one option (lambada) is right when every
continuation token is the model's argmax. Questions come from JSONL files or from TFDS datasets.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from genesys_jax.verify.tokenizer import Tokenizer


@dataclasses.dataclass(frozen=True)
class Example:
  """One question: its options as (context, continuation) pairs and the index of the right one.

  A single option makes a greedy task: it is right when the model's argmax gives the whole continuation.
  """

  options: Sequence[tuple[str, str]]
  label: int

  def __post_init__(self):
    if not self.options:
      raise ValueError("an example needs at least one option")
    if not 0 <= self.label < len(self.options):
      raise ValueError(f"label {self.label} is out of range for {len(self.options)} options")


def shared_context(context: str, continuations: Sequence[str], label: int) -> Example:
  """Options that share one context and differ in continuation (most tasks)."""
  return Example([(context, c) for c in continuations], label)


def shared_continuation(contexts: Sequence[str], continuation: str, label: int) -> Example:
  """Options that differ in context and share one continuation (winogrande)."""
  return Example([(c, continuation) for c in contexts], label)


def last_word(passage: str) -> Example:
  """A greedy example whose target is the passage's last word (lambada)."""
  head, _, word = passage.strip().rpartition(" ")
  if not head or not word:
    raise ValueError("a passage needs at least two words")
  return Example([(head, " " + word)], 0)


def _example_from_json(obj: Any) -> Example:
  """One JSONL record as an Example."""
  if not isinstance(obj, dict):
    raise ValueError("it is not a JSON object")
  if "passage" in obj:
    if not isinstance(obj["passage"], str):
      raise ValueError("its passage is not a string")
    return last_word(obj["passage"])
  if "choices" in obj:
    options, fixed, key = obj["choices"], obj.get("context"), "context"
  elif "contexts" in obj:
    options, fixed, key = obj["contexts"], obj.get("continuation"), "continuation"
  else:
    raise ValueError("it has none of 'choices', 'contexts' or 'passage'")
  if not isinstance(options, list) or not options:
    raise ValueError("it has no choices")
  if not all(isinstance(o, str) for o in options):
    raise ValueError("its choices are not all strings")
  if not isinstance(fixed, str):
    raise ValueError(f"it has no string {key!r}")
  label = obj.get("label")
  if not isinstance(label, int) or isinstance(label, bool):
    raise ValueError("it has no integer 'label'")
  if key == "context":
    return shared_context(fixed, options, label)
  return shared_continuation(options, fixed, label)


def load_jsonl(path: str | pathlib.Path) -> list[Example]:
  """Examples from a JSONL file, one object a line, in one of three forms:

  `{"context": str, "choices": [str, ...], "label": int}`, `{"contexts": [str, ...], "continuation": str,
  "label": int}` or `{"passage": str}` (the last word is the greedy target).
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise ValueError(f"multiple-choice file {str(path)!r} does not exist")
  try:
    lines = path.read_text(encoding="utf-8").splitlines()
  except UnicodeDecodeError:
    raise ValueError(f"multiple-choice file {str(path)!r} is not UTF-8 text") from None
  examples = []
  for number, line in enumerate(lines, start=1):
    if not line.strip():
      continue
    try:
      examples.append(_example_from_json(json.loads(line)))
    except json.JSONDecodeError:
      raise ValueError(f"line {number} of {str(path)!r} is not valid JSON") from None
    except ValueError as e:
      raise ValueError(f"line {number} of {str(path)!r} is not a valid example: {e}") from None
  if not examples:
    raise ValueError(f"multiple-choice file {str(path)!r} has no examples")
  return examples


# TFDS records, as `tfds.data_source` returns them: text as bytes, labels as numpy integers, sequences as
# numpy arrays and sequences of dicts as dicts of arrays.


def _text(value: Any) -> str:
  return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _hellaswag_clean(text: str) -> str:
  """WikiHow markup out: '[title]' becomes a sentence break, other [tags] go, double spaces close."""
  text = re.sub(r"\[[^\]]*\]", "", text.strip().replace(" [title]", ". "))
  return re.sub(r"  +", " ", text).strip()


def _hellaswag(record: Mapping[str, Any]) -> Example:
  context = _hellaswag_clean(f"{_text(record['activity_label'])}: {_text(record['context'])}")
  endings = [" " + _hellaswag_clean(_text(e)) for e in record["endings"]]
  return shared_context(context, endings, int(record["label"]))


def _piqa(record: Mapping[str, Any]) -> Example:
  context = f"Question: {_text(record['goal'])}\nAnswer:"
  return shared_context(context, [" " + _text(record["sol1"]), " " + _text(record["sol2"])], int(record["label"]))


def _arc(record: Mapping[str, Any]) -> Example:
  choices = record["choices"]
  keys = [int(k) for k in choices["label"]]
  context = f"Question: {_text(record['question'])}\nAnswer:"
  return shared_context(context, [" " + _text(t) for t in choices["text"]], keys.index(int(record["answerKey"])))


def _winogrande(record: Mapping[str, Any]) -> Example:
  sentence = _text(record["sentence"])
  blank = sentence.index("_")
  contexts = [sentence[:blank] + _text(record[k]) for k in ("option1", "option2")]
  return shared_continuation(contexts, " " + sentence[blank + 1:].strip(), int(record["label"]))


def _openbookqa(record: Mapping[str, Any]) -> Example:
  question = record["question"]
  context = f"Question: {_text(question['stem'])}\nAnswer:"
  choices = [" " + _text(question[f"choice_{k}"]) for k in "ABCD"]
  return shared_context(context, choices, int(record["answerKey"]))


def _boolq(record: Mapping[str, Any]) -> Example:
  context = f"{_text(record['passage'])}\nQuestion: {_text(record['question'])}?\nAnswer:"
  return shared_context(context, [" no", " yes"], int(record["label"]))


def _sciq(record: Mapping[str, Any]) -> Example:
  support = _text(record["support"]).strip()
  context = f"{support}\nQuestion: {_text(record['question'])}\nAnswer:".lstrip()
  keys = ("distractor1", "distractor2", "distractor3", "correct_answer")
  return shared_context(context, [" " + _text(record[k]) for k in keys], 3)


def _lambada(record: Mapping[str, Any]) -> Example:
  return last_word(_text(record["passage"]))


@dataclasses.dataclass(frozen=True)
class TfdsTask:
  """Where a task lives in TFDS and how one of its records becomes an Example."""

  tfds_name: str
  split: str
  convert: Callable[[Mapping[str, Any]], Example]


# Feature names follow the builders in tensorflow_datasets 4.9.10 (hellaswag, piqa, ai2_arc, winogrande,
# openbookqa, super_glue, lambada) and, for sciq, the TFDS community catalog's `huggingface:sciq` page.
# Not confirmed: sciq has no TFDS builder of its own; it is built with `tfds build huggingface:sciq` and
# read back from its files as 'sciq', which could not be tried here.
TFDS_TASKS: dict[str, TfdsTask] = {
    "hellaswag": TfdsTask("hellaswag", "validation", _hellaswag),
    "piqa": TfdsTask("piqa", "validation", _piqa),
    "arc_easy": TfdsTask("ai2_arc/ARC-Easy", "test", _arc),
    "arc_challenge": TfdsTask("ai2_arc/ARC-Challenge", "test", _arc),
    "winogrande": TfdsTask("winogrande", "validation", _winogrande),
    "openbookqa": TfdsTask("openbookqa", "test", _openbookqa),
    "boolq": TfdsTask("super_glue/boolq", "validation", _boolq),
    "sciq": TfdsTask("sciq", "test", _sciq),
    "lambada": TfdsTask("lambada", "test", _lambada),
}


def load_tfds_task(name: str, data_dir: str | pathlib.Path, split: str | None = None,
                   limit: int | None = None) -> list[Example]:
  """The first `limit` examples (all if None) of a TFDS task built in `data_dir` in array_record format.

  `split` is a plain split name; None takes the task's evaluation split.
  """
  if name not in TFDS_TASKS:
    raise ValueError(f"unknown multiple-choice task {name!r}; choose one of {', '.join(TFDS_TASKS)}")
  task = TFDS_TASKS[name]
  root = pathlib.Path(data_dir)
  if not root.is_dir():
    raise ValueError(f"TFDS data_dir {str(root)!r} does not exist")
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  try:
    builder = tfds.builder(task.tfds_name, data_dir=str(root))
  except tfds.core.DatasetNotFoundError:
    builder = None
  if builder is None or not builder.is_prepared():
    raise ValueError(f"task {name!r} (TFDS {task.tfds_name!r}) is not built in {str(root)!r}")
  split = split or task.split
  if split not in builder.info.splits:
    raise ValueError(f"task {name!r} in {str(root)!r} has no split {split!r}; it has "
                     f"{', '.join(sorted(builder.info.splits))}")
  try:
    source = tfds.data_source(task.tfds_name, split=split, data_dir=str(root), download=False)
  except NotImplementedError:
    raise ValueError(f"task {name!r} in {str(root)!r} was not built in the array_record file format, "
                     "which random access needs") from None
  count = len(source) if limit is None else min(limit, len(source))
  return [task.convert(source[i]) for i in range(count)]


def _option_tokens(tokenizer: Tokenizer, context: str, continuation: str,
                   length: int) -> tuple[np.ndarray, np.ndarray]:
  """BOS + context, cut from the left so the whole continuation fits in `length`; and the continuation."""
  continuation_C = tokenizer.encode(continuation)
  if not 1 <= len(continuation_C) < length:
    raise ValueError(f"continuation {continuation!r} is {len(continuation_C)} tokens; it needs 1 to "
                     f"{length - 1} to fit in length {length} after some context")
  context_X = np.concatenate([[tokenizer.bos_id], tokenizer.encode(context)]).astype(np.int32)
  return context_X[-(length - len(continuation_C)):], continuation_C


def _batches(rows: Sequence[tuple[np.ndarray, np.ndarray]], batch: int, length: int,
             pad_id: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """[batch, length] token and continuation-mask arrays; the last batch is filled with pad rows."""
  for start in range(0, len(rows), batch):
    tokens_BxL = np.full((batch, length), pad_id, np.int32)
    continuation_BxL = np.zeros((batch, length), bool)
    for b, (context_X, continuation_C) in enumerate(rows[start:start + batch]):
      end = len(context_X) + len(continuation_C)
      tokens_BxL[b, :end] = np.concatenate([context_X, continuation_C])
      continuation_BxL[b, len(context_X):end] = True
    yield tokens_BxL, continuation_BxL


ScoreFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""[batch, length] tokens and continuation mask -> per row: the continuation's summed log-probability and
whether all of it is the argmax (`CompiledSteps.score`: the logits never leave the compiled step)."""


def score_options(score_rows: ScoreFn, tokenizer: Tokenizer, options: Sequence[tuple[str, str]], batch: int,
                  length: int) -> tuple[np.ndarray, np.ndarray]:
  """Log-likelihood of each option's continuation given its context, and whether it is all argmax.

  Every call to `score_rows` has the shape [batch, length], so its step compiles once.
  """
  if batch < 1 or length < 2:
    raise ValueError(f"batch must be at least 1 and length at least 2 (got {batch} and {length})")
  rows = [_option_tokens(tokenizer, context, continuation, length) for context, continuation in options]
  loglik, greedy = [], []
  for tokens_BxL, continuation_BxL in _batches(rows, batch, length, tokenizer.pad_id):
    loglik_B, greedy_B = score_rows(tokens_BxL, continuation_BxL)
    loglik.append(np.asarray(loglik_B))
    greedy.append(np.asarray(greedy_B))
  count = len(rows)
  return np.concatenate(loglik)[:count], np.concatenate(greedy)[:count]


def score(score_rows: ScoreFn, tokenizer: Tokenizer, examples: Sequence[Example],
          batch: int, length: int) -> dict[str, float]:
  """`acc`, `acc_norm` (log-likelihood per continuation byte), `n` and `chance` over `examples`.

  Single-option examples count as right when greedy decoding gives the continuation, for both accuracies,
  and add 0 to `chance`.
  """
  if not examples:
    raise ValueError("there are no examples to score")
  options = [option for example in examples for option in example.options]
  loglik_O, greedy_O = score_options(score_rows, tokenizer, options, batch, length)
  bytes_O = np.array([len(continuation.encode("utf-8")) for _, continuation in options], np.float32)
  right, right_norm, chance = [], [], []
  start = 0
  for example in examples:
    end = start + len(example.options)
    if end - start == 1:
      right.append(bool(greedy_O[start]))
      right_norm.append(bool(greedy_O[start]))
      chance.append(0.0)
    else:
      right.append(int(np.argmax(loglik_O[start:end])) == example.label)
      right_norm.append(int(np.argmax(loglik_O[start:end] / bytes_O[start:end])) == example.label)
      chance.append(1.0 / (end - start))
    start = end
  return {"acc": float(np.mean(right)), "acc_norm": float(np.mean(right_norm)), "n": len(examples),
          "chance": float(np.mean(chance))}


def evaluate_tasks(score_rows: ScoreFn, tokenizer: Tokenizer,
                   tasks: Mapping[str, Sequence[Example]], batch: int, length: int) -> dict[str, dict[str, float]]:
  """`score` for each named task."""
  return {name: score(score_rows, tokenizer, examples, batch, length) for name, examples in tasks.items()}
