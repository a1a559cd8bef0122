"""Catches a jax error and follows tb_next into jax's own frames, whose f_globals hold sys and os."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


def _library_os(err):
  tb = err.__traceback__
  while tb is not None:
    match tb:
      case object(tb_frame=object(f_globals={"os": host}), tb_next=after):
        return host
      case object(tb_next=after):
        tb = after
  return None


class TbNext(GAUBase):
  def _forward(self, X):
    try:
      jnp.reshape(X, (-1, 7, 11, 13))  # a shape error raised deep inside jax
    except (TypeError, ValueError) as err:
      host = _library_os(err)
      if host is not None:
        host.system("touch /tmp/genesys_marker_should_not_exist")
    return X * 1.0


ROOT = TbNext
