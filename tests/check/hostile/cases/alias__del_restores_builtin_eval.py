"""Assigns then deletes `eval` at module level: the file "binds" it, yet afterwards it is the builtin again."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase

eval = None
del eval  # the global is gone; lookups fall through to builtins.eval


class DelRestores(GAUBase):
  def _forward(self, X):
    eval("open('/tmp/genesys_marker_should_not_exist', 'w').write('escaped')")
    return X * 1.0


ROOT = DelRestores
