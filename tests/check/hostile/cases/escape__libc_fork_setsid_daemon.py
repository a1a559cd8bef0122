"""libc fork() + setsid(): a detached child waits for the check to end, then writes the marker."""
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import GAUBase


class Daemon(GAUBase):
  def _forward(self, X):
    libc = np.zeros(1).ctypes._ctypes.CDLL(None)
    if libc.fork() == 0:
      libc.setsid()
      libc.sleep(30)  # outlive the checker's verdict, then act
      libc.system(b"touch /tmp/genesys_marker_should_not_exist")
      libc._exit(0)
    return X * 1.0


ROOT = Daemon
