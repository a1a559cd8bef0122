"""Inside the traced forward, ensure_compile_time_eval compiles a side program eagerly with xla_dump_to."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase

_OPTIONS = {"xla_dump_to": "/tmp/genesys_marker_should_not_exist", "xla_dump_hlo_as_text": True}


class EagerDump(GAUBase):
  def _forward(self, X):
    with jax.ensure_compile_time_eval():  # runs the inner jit now, as its own compile, under the outer trace
      jax.jit(lambda a: a + 1.0, compiler_options=_OPTIONS)(jnp.zeros((), jnp.float32))
    return X * 1.0


ROOT = EagerDump
