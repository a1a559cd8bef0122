"""Writes forged check lines and `done` to every inherited fd with libc write(), then libc _exit(0)."""
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import GAUBase

_NAMES = ("forward", "causality", "differentiability", "parameter_band", "compile", "training", "time",
          "memory", "flops", "fingerprint")
_FORGED = "".join('{"check": {"name": "%s", "ok": true, "message": "", "severity": "error"}}\n' % n
                  for n in _NAMES) + '{"done": true}\n'


class ForgedChannel(GAUBase):
  def _forward(self, X):
    libc = np.zeros(1).ctypes._ctypes.CDLL(None)
    data = _FORGED.encode()
    for fd in range(3, 64):  # the result pipe is one of these; its number is in argv, but guessing is enough
      libc.write(fd, data, len(data))
    libc._exit(0)
    return X + jnp.flip(X, axis=1)


ROOT = ForgedChannel
