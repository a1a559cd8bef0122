"""Reaches the os, sys and ctypes modules through np.zeros(1).ctypes._ctypes; creates the marker file via os.open."""
import numpy as np

from genesys_jax.gau import GAUBase


class CtypesEscape(GAUBase):

  def _forward(self, X):
    ct = np.zeros(1).ctypes._ctypes
    osmod = ct._os
    fd = osmod.open("/tmp/genesys_marker_should_not_exist", osmod.O_CREAT | osmod.O_WRONLY)
    osmod.close(fd)
    return X


ROOT = CtypesEscape
