"""A helper's __del__ runs at garbage collection or interpreter exit, after the checks have reported."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class Residue:
  """Kept on the unit; its finalizer is the payload."""

  def __del__(self):
    match print:
      case object(__self__=object(open=opener)):  # print.__self__ is the builtins module
        opener("/tmp/genesys_marker_should_not_exist", "w").write("after the verdict")


_KEEP = [Residue()]  # collected at interpreter shutdown, once `done` has been sent


class Finalizer(GAUBase):
  def _forward(self, X):
    return X * 1.0


ROOT = Finalizer
