"""Obtains code objects of the whole calling stack (including trusted checker code) and a Python traceback object via jaxlib Traceback: jax.jit(f).trace(X).jaxpr.eqns[0].source_info.traceback.raw_frames() / .as_python_traceback() / .get_traceback()."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


def _f(x):
  return jnp.sin(x)


class TracebackCode(GAUBase):

  def _forward(self, X):
    tb = jax.jit(_f).trace(X).jaxpr.eqns[0].source_info.traceback
    codes = tb.raw_frames()[0]            # list of code objects, innermost first
    pytb = tb.as_python_traceback()       # a real types.TracebackType
    now = tb.get_traceback()              # static: the current Python stack, right now
    self.names = [c.co_name + " @ " + c.co_filename for c in codes]
    self.now = [c.co_qualname for c in now.raw_frames()[0]]
    self.pytb = repr(pytb)
    self.codes = codes
    return X


ROOT = TracebackCode
