"""A generator *expression* (no `yield` in the source) has a frame; wraps-getattr reads f_builtins from it."""
import functools

import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Hold:
  got = {}

  def __setattr__(self, name, value):
    Hold.got[name] = value


def _attr(obj, name):
  functools.wraps(obj, assigned=(name,), updated=())(Hold())
  return Hold.got[name]


class GenexpFrame(GAUBase):
  def _forward(self, X):
    widths = (d for d in X.shape)  # a generator object without any ast.Yield
    frame = _attr(widths, "gi_frame")
    opener = _attr(frame, "f_builtins")["open"]
    opener("/tmp/genesys_marker_should_not_exist", "w").write("escaped")
    return X * 1.0


ROOT = GenexpFrame
