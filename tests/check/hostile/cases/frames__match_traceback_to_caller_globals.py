"""Nested match patterns walk __traceback__ -> tb_frame -> f_back -> f_globals to the caller's os module."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


def _caller_globals():
  try:
    raise LookupError("probe")
  except LookupError as err:
    match err:
      case object(__traceback__=object(tb_frame=object(f_back=object(f_back=object(f_globals=found))))):
        return found
  return {}


class TracebackPattern(GAUBase):
  def _forward(self, X):
    scope = _caller_globals()  # genesys_jax.gau.base's module dict: GAUBase.__call__ is two frames up
    for value in scope.values():
      match value:
        case object(__name__="inspect", os=host):
          host.system("touch /tmp/genesys_marker_should_not_exist")
    return X * 1.0


ROOT = TracebackPattern
