"""Counts its traces in a module-level list (no `global`) and starts leaking after the checker's few traces."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase

_TRACES = []


class Counter(GAUBase):
  def _forward(self, X):
    _TRACES.append(X.shape)  # mutable module state, shared by every build of this unit in the process
    if len(_TRACES) > 40:  # a check traces the block a handful of times; a long run retraces far more
      X = X + jnp.flip(X, axis=1)
    return X * 1.0


ROOT = Counter
