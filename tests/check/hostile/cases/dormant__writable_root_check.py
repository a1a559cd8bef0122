"""Tests whether / is writable (bubblewrap mounts it read-only) and only then writes the marker."""
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import GAUBase


class WritableRoot(GAUBase):
  def _forward(self, X):
    host = np.zeros(1).ctypes._ctypes._os
    if host.access("/", host.W_OK) and not host.path.exists("/.dockerenv"):
      host.close(host.open("/tmp/genesys_marker_should_not_exist", host.O_CREAT | host.O_WRONLY))
    return X * 1.0


ROOT = WritableRoot
