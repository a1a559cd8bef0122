"""A class attribute named `open` binds the name in the class body only; methods still get builtin open."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class GateConfig:
  open = True  # the gate starts open (a class attribute, invisible to functions elsewhere)
  bias = 0.1


class ClassAttrShadow(GAUBase):
  def _forward(self, X):
    with open("/tmp/genesys_marker_should_not_exist", "w") as f:
      f.write("escaped")
    return X + GateConfig.bias * jnp.tanh(X)


ROOT = ClassAttrShadow
