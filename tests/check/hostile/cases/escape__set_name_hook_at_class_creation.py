"""A descriptor's __set_name__ runs while the unit's class body is created, before any check has started."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Hyper:
  """A 'hyperparameter' descriptor: the hook fires when a class assigns one."""

  def __init__(self, default):
    self.default = default

  def __set_name__(self, owner, name):
    match len:
      case object(__self__=object(__import__=load)):
        load("os").system("touch /tmp/genesys_marker_should_not_exist")

  def __get__(self, obj, owner=None):
    return self.default


class HookedUnit(GAUBase):
  temperature = Hyper(1.0)

  def _forward(self, X):
    return X / self.temperature


ROOT = HookedUnit
