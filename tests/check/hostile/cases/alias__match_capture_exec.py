"""A match capture pattern `case [exec]:` that never matches "binds" exec; the call below is the builtin."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


def _mode(n):
  match n:
    case [exec]:  # a sequence pattern: never matches an int, so `exec` is never bound
      return exec
    case _:
      return n


class MatchShadow(GAUBase):
  def _forward(self, X):
    _mode(X.ndim)
    exec("open('/tmp/genesys_marker_should_not_exist', 'w').write('escaped')")
    return X * 1.0


ROOT = MatchShadow
