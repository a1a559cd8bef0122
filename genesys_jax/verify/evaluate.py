"""Held-out language-modelling metrics: loss, perplexity, bits per byte and next-token accuracy."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping

import jax
import numpy as np

EvalStep = Callable[[Mapping[str, np.ndarray]], dict[str, jax.Array]]


def language_model_metrics(eval_step: EvalStep, batches: Iterable[Mapping[str, np.ndarray]],
                           max_batches: int | None = None) -> dict[str, float]:
  """Token-weighted metrics over `batches` (at most `max_batches`); sums stay on device until the end.

  `bits_per_byte` divides the total loss in bits by the UTF-8 bytes of the scored targets, so it
  compares models across tokenizers.
  """
  totals = None
  for batch in itertools.islice(batches, max_batches):
    sums = eval_step(batch)
    totals = sums if totals is None else jax.tree.map(lambda a, b: a + b, totals, sums)
  if totals is None:
    raise ValueError("the evaluation split gave no batches")
  totals = {k: float(v) for k, v in jax.device_get(totals).items()}
  tokens = totals["weight_sum"]
  loss = totals["loss_sum"] / max(tokens, 1.0)
  return {"loss": loss, "perplexity": math.exp(min(loss, 80.0)),
          "bits_per_byte": totals["loss_sum"] / math.log(2) / max(totals["byte_sum"], 1.0),
          "accuracy": totals["correct_sum"] / max(tokens, 1.0), "tokens": int(tokens)}



