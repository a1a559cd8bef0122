"""`except ... as open` in a try that never raises leaves `open` unbound, so it is the builtin: reads environ."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase

try:
  _EPS = 1e-6
except ArithmeticError as open:  # never taken: binds nothing
  _EPS = 1e-5


class ExceptShadow(GAUBase):
  def _forward(self, X):
    print(open("/proc/self/environ").read())
    return X / (1.0 + _EPS)


ROOT = ExceptShadow
