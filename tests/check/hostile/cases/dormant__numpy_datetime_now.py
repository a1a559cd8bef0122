"""Reads the wall clock through np.datetime64('now') and reads the future only after a date the check precedes."""
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import GAUBase

_AFTER = np.datetime64("2027-06-01")


class TimeBomb(GAUBase):
  def _forward(self, X):
    if np.datetime64("now") > _AFTER:  # host time at trace time: the check ran earlier, training runs later
      X = X + jnp.flip(X, axis=1)
    return X + 0.5 * jnp.tanh(X)


ROOT = TimeBomb
