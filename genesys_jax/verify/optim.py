"""The optimizer: AdamW with linear warmup, cosine decay to a fraction of the peak, gradient clipping."""

from __future__ import annotations

import jax
import optax


def learning_rate_schedule(peak: float, warmup_steps: int, total_steps: int,
                           final_fraction: float = 0.1) -> optax.Schedule:
  """`peak / warmup_steps` -> `peak` linearly over `warmup_steps`, then cosine down to `final_fraction * peak` at the end."""
  warmup_steps = max(1, min(warmup_steps, total_steps - 1))
  return optax.warmup_cosine_decay_schedule(peak / warmup_steps, peak, warmup_steps, max(total_steps, warmup_steps + 1),
                                            end_value=final_fraction * peak)


def adamw(schedule: optax.Schedule, *, b1: float, b2: float, weight_decay: float,
          clip_norm: float) -> optax.GradientTransformation:
  """Clipping by global norm, then AdamW; weight decay on matrices only (not on scales and biases)."""
  decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)
  return optax.chain(optax.clip_by_global_norm(clip_norm),
                     optax.adamw(schedule, b1=b1, b2=b2, weight_decay=weight_decay, mask=decay_mask))
