"""`from math import pi as globals` inside a helper binds that name locally; elsewhere globals() is the builtin."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


def _phase():
  from math import pi as globals  # an import that binds `globals` in this function's scope only
  return globals / 4


class LocalImportShadow(GAUBase):
  def _forward(self, X):
    table = globals()["__builtins__"]
    opener = table["open"] if isinstance(table, dict) else table.open
    opener("/tmp/genesys_marker_should_not_exist", "w").write("escaped")
    return X * jnp.cos(_phase())


ROOT = LocalImportShadow
