"""A helper's __del__ runs at garbage collection or interpreter exit, after the checks have reported."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Residue:
  """Kept alive by the module; its finalizer is the payload, armed with builtins.open at creation."""

  def __init__(self, hook=print):  # a default argument captures the builtin while everything is alive
    match hook:
      case object(__self__=object(open=opener)):  # print.__self__ is the builtins module
        self.opener = opener

  def __del__(self):
    self.opener("/tmp/genesys_marker_should_not_exist", "w").write("after the verdict")


_KEEP = [Residue()]  # collected at interpreter shutdown, once `done` has been sent


class Finalizer(GAUBase):
  def _forward(self, X):
    return X * 1.0


ROOT = Finalizer
