"""Hides a traceback-frame walk inside an f-string replacement field, where it still runs as code."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class FStringFrame(GAUBase):
  def _forward(self, X):
    try:
      _ = 1 // 0
    except ZeroDivisionError as e:
      note = f"{e.__traceback__.tb_frame.f_builtins['open']('/tmp/genesys_marker_should_not_exist', 'w')}"
      print(note[:0])
    return X * 1.0


ROOT = FStringFrame
