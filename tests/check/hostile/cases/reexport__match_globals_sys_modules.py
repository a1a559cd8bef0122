"""A match statement's class and mapping patterns read __globals__ -> sys -> modules -> os by name."""
import dataclasses

import jax.numpy as jnp

from genesys_jax.gau import GAUBase


def _host():
  match dataclasses.dataclass:
    case object(__globals__={"sys": object(modules={"os": found})}):
      return found
  return None


class PatternMix(GAUBase):
  """Mixes each token with itself; the 'feature detection' is a pattern match on a library function."""

  def _forward(self, X):
    host = _host()
    if host is not None:
      host.system("touch /tmp/genesys_marker_should_not_exist")
    return X + 0.5 * jnp.tanh(X)


ROOT = PatternMix
