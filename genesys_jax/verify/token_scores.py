"""Scores reduced from logits inside a compiled step, so no `[batch, length, vocab]` array leaves it: the
weighted cross-entropy of training and held-out evaluation, and the per-row continuation scores of
multiple-choice evaluation."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import optax

Batch = Mapping[str, jax.Array]


def weighted_cross_entropy(logits_BxLxV: jax.Array, batch: Batch) -> tuple[jax.Array, jax.Array]:
  """Per-position cross-entropy (float32) times the batch's weights, and the weights."""
  ce_BxL = optax.softmax_cross_entropy_with_integer_labels(logits_BxLxV.astype(jnp.float32), batch["targets"])
  weights_BxL = batch["weights"].astype(jnp.float32)
  return ce_BxL * weights_BxL, weights_BxL


def scored_positions(batch: Batch, per_row: int) -> tuple[jax.Array | None, Batch]:
  """The `per_row` positions of each row with the largest weights (all positions when 0) and the batch's
  targets, weights and target bytes there; rows with fewer scored positions fill up with weight-0 ones."""
  if not per_row:
    return None, batch
  _, at_BxK = jax.lax.top_k(batch["weights"], per_row)
  return at_BxK, {**batch, **{k: jnp.take_along_axis(batch[k], at_BxK, axis=1)
                             for k in ("targets", "weights", "target_bytes")}}


def evaluation_sums(logits_BxLxV: jax.Array, batch: Batch) -> dict[str, jax.Array]:
  """Weighted sums of loss, weights, target bytes and correct argmax predictions."""
  losses_BxL, weights_BxL = weighted_cross_entropy(logits_BxLxV, batch)
  correct_BxL = (jnp.argmax(logits_BxLxV, axis=-1) == batch["targets"]) * weights_BxL
  return {"loss_sum": losses_BxL.sum(), "weight_sum": weights_BxL.sum(), "correct_sum": correct_BxL.sum(),
          "byte_sum": (batch["target_bytes"] * weights_BxL).sum()}


def continuation_scores(logits_BxLxV: jax.Array, tokens_BxL: jax.Array,
                        continuation_BxL: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per row: summed float32 log-probability of the continuation tokens, and whether each was the argmax."""
  logits_BxTxV = logits_BxLxV[:, :-1].astype(jnp.float32)
  targets_BxT = tokens_BxL[:, 1:]
  mask_BxT = continuation_BxL[:, 1:]
  target_logits_BxT = jnp.take_along_axis(logits_BxTxV, targets_BxT[..., None], axis=-1)[..., 0]
  logprobs_BxT = target_logits_BxT - jax.nn.logsumexp(logits_BxTxV, axis=-1)
  hits_BxT = jnp.argmax(logits_BxTxV, axis=-1) == targets_BxT
  return jnp.sum(jnp.where(mask_BxT, logprobs_BxT, 0.0), axis=-1), jnp.all(hits_BxT | ~mask_BxT, axis=-1)
