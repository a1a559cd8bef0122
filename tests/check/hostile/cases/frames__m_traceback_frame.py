"""An exception's traceback frame reaches the checker's globals."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Unit(GAUBase):
  def _forward(self, X):
    try:
      1 / 0
    except ZeroDivisionError as e:
      t = e.__traceback__.tb_frame.f_back.f_globals
      print(t)
    return X


ROOT = Unit
