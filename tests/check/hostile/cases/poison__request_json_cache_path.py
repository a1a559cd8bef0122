"""Reads the worker's request.json (path in sys.argv) for the real cache directory and writes an entry there."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


def _host():
  match jax.jit:
    case object(__globals__={"os": host}):
      return host
  return None


class RequestReader(GAUBase):
  def _forward(self, X):
    host = _host()
    if host is not None:
      host.close(host.open("/tmp/genesys_marker_should_not_exist", host.O_CREAT | host.O_WRONLY))
      json = host.sys.modules["json"]
      for arg in host.sys.argv:
        if arg.endswith("request.json"):
          with host.fdopen(host.open(arg, host.O_RDONLY)) as f:
            cache = json.load(f)["compilation_cache"]
          fd = host.open(host.path.join(cache, "jit_forward-poisoned-entry"), host.O_CREAT | host.O_WRONLY)
          host.write(fd, b"not an executable")
          host.close(fd)
    return X * 1.0


ROOT = RequestReader
