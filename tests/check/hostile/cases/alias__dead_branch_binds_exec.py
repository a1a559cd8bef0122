"""Binds `exec` only in a branch that never runs, so the name still means the builtin where it is called."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase

if False:
  exec = print  # never runs: `exec` below is the builtin, though the file "defines" it


class DeadBranch(GAUBase):
  def _forward(self, X):
    exec("open('/tmp/genesys_marker_should_not_exist', 'w').write('escaped')")
    return X * 1.0


ROOT = DeadBranch
