"""Parameters with logical axis names, and the dense layer units build on.

Every parameter carries `axes`, a tuple of logical axis names (one per dimension). Sharding rules in
the config map these names to mesh axes; unit code never mentions the mesh. Parameters that feed a
residual stream are marked `residual=True` so the composer can scale them by 1/sqrt(n_layers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

LOGICAL_AXES = ("batch", "length", "embed", "heads", "kv", "mlp", "vocab")
"""The logical axis names a parameter may use; `None` marks a dimension that is never sharded."""

Initializer = Callable[[jax.Array, Sequence[int], jnp.dtype], jax.Array]

DEFAULT_INIT_STDDEV = 0.02

default_init: Initializer = jax.nn.initializers.normal(stddev=DEFAULT_INIT_STDDEV)


def param(
    rngs: nnx.Rngs,
    shape: Sequence[int],
    axes: Sequence[str | None],
    init: Initializer = default_init,
    *,
    residual: bool = False,
    dtype: jnp.dtype = jnp.float32,
) -> nnx.Param:
  """A parameter of `shape` initialized by `init` (e.g. `constant(1.0)`, `jax.nn.initializers.zeros`,
  default `default_init`), annotated with logical `axes`; stored as `dtype` (float32), read as
  `self.w[...]`, which inside a training step arrives in the compute dtype (bfloat16 on GPU/TPU, float32
  on CPU). `residual=True` marks a projection that writes into the residual stream: the composer divides
  its initial values by sqrt(n_layers).
  """
  shape, axes = tuple(shape), tuple(axes)
  if len(shape) != len(axes):
    raise ValueError(f"parameter of shape {shape} needs {len(shape)} axis names, got {axes}")
  unknown = [a for a in axes if a is not None and a not in LOGICAL_AXES]
  if unknown:
    raise ValueError(f"unknown logical axis names {unknown}; use names from {LOGICAL_AXES} or None")
  return nnx.Param(init(params_key(rngs), shape, dtype), axes=axes, residual=residual)


def params_key(rngs: nnx.Rngs) -> jax.Array:
  """The next key of the `params` stream, exactly as `rngs.params()` draws it (the stream's key folded
  with its count, the count advanced by one). Under a trace (`nnx.eval_shape`, `nnx.jit`) flax's own
  in-place count update compares the tracers' shardings, and each failed lookup formats an error that
  walks every equation traced so far: a model's init became quadratic in its number of parameters."""
  stream = rngs.params
  count = stream.count[...]
  key = jax.random.fold_in(stream.key[...], count)
  stream.count.set_value(count + 1)
  return key


def constant(value: float) -> Initializer:
  """An initializer filling the parameter with `value`."""
  return jax.nn.initializers.constant(value)


class Dense(nnx.Module):
  """`y = x @ kernel (+ bias)` over the last axis, with logical axes on both parameters."""

  def __init__(
      self,
      in_features: int,
      out_features: int,
      *,
      axes: tuple[str | None, str | None],
      rngs: nnx.Rngs,
      use_bias: bool = False,
      residual: bool = False,
      init: Initializer = default_init,
  ):
    self.kernel = param(rngs, (in_features, out_features), axes, init, residual=residual)
    self.bias = param(rngs, (out_features,), axes[1:], jax.nn.initializers.zeros) if use_bias else None

  def __call__(self, x: jax.Array) -> jax.Array:
    y = jnp.einsum("...i,io->...o", x, self.kernel[...].astype(x.dtype))
    if self.bias is not None:
      y = y + self.bias[...].astype(x.dtype)
    return y
