"""Writes files at a chosen path through XLA: jax.jit(f, compiler_options={"xla_dump_to": path}) (also Lowered.compile(compiler_options)); creates /tmp/genesys_marker_should_not_exist (a directory of HLO dumps)."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


def _double(x):
  return x * 2.0


class XlaDump(GAUBase):

  def _forward(self, X):
    f = jax.jit(_double, compiler_options={"xla_dump_to": "/tmp/genesys_marker_should_not_exist"})
    return f(X) * 0.5


ROOT = XlaDump
