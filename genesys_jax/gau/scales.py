"""The ladder of scales as data: the paper's ladder (14M-350M) and a CPU micro-ladder of the same shape.

Each rung is named after the size of the GPT reference model at that rung (the GPT2 seed with the
rung's width, depth and vocabulary). `reference_params` is the figure the paper reports for it.
"""

from __future__ import annotations

import dataclasses

from genesys_jax.gau.errors import DesignError


@dataclasses.dataclass(frozen=True)
class Scale:
  """One rung: model shape, training budget and optimization defaults."""

  name: str
  embed_dim: int
  n_layers: int
  vocab_size: int
  seq_len: int
  token_multiplier: int       # training tokens = parameters x this
  learning_rate: float
  batch_tokens: int           # tokens per optimizer step
  reference_params: int | None = None  # the paper's GPT reference size, where it gives one
  width_multiple: int = 32    # auto-sizing keeps the width a multiple of this


PAPER_LADDER: tuple[Scale, ...] = (
    Scale("14M", 128, 6, 32000, 2048, 50, 1e-3, 2**19, 5_280_000),
    Scale("31M", 256, 6, 32000, 2048, 40, 1e-3, 2**19, 12_900_000),
    Scale("70M", 512, 6, 32000, 2048, 30, 1e-3, 2**19, 35_300_000),
    Scale("125M", 768, 12, 32000, 2048, 20, 6e-4, 2**19, 109_600_000),
    Scale("350M", 1024, 24, 32000, 2048, 20, 3e-4, 2**19, 334_900_000),
)

BYTE_VOCAB_SIZE = 260
"""Byte-level vocabulary: 256 byte values plus 4 special tokens."""

MICRO_LADDER: tuple[Scale, ...] = (
    # Widths and depths grow as on the paper's ladder; token multipliers are the paper's / 5 so the
    # whole ladder trains in seconds (lowest rung) to minutes (top rung) on 2 CPU cores. Widths move in
    # steps of 16 so small rungs can still be sized within tolerance when a layer is a large share.
    Scale("micro1", 32, 2, BYTE_VOCAB_SIZE, 128, 10, 3e-3, 4096, width_multiple=16),
    Scale("micro2", 64, 2, BYTE_VOCAB_SIZE, 128, 8, 3e-3, 4096, width_multiple=16),
    Scale("micro3", 96, 2, BYTE_VOCAB_SIZE, 128, 6, 2e-3, 8192, width_multiple=16),
    Scale("micro4", 128, 3, BYTE_VOCAB_SIZE, 256, 4, 2e-3, 8192, width_multiple=16),
    Scale("micro5", 160, 4, BYTE_VOCAB_SIZE, 256, 4, 1e-3, 16384, width_multiple=16),
)

LADDERS: dict[str, tuple[Scale, ...]] = {"paper": PAPER_LADDER, "micro": MICRO_LADDER}
SCALES: dict[str, Scale] = {s.name: s for ladder in LADDERS.values() for s in ladder}


def get_scale(name: str) -> Scale:
  """A rung by name (e.g. '14M', 'micro1')."""
  if name not in SCALES:
    raise DesignError(f"unknown scale {name!r}; known scales: {list(SCALES)}")
  return SCALES[name]


def padded_vocab(vocab_size: int, multiple: int = 8) -> int:
  """The vocabulary rounded up to a multiple of `multiple` (the embedding table's row count)."""
  return -(-vocab_size // multiple) * multiple
