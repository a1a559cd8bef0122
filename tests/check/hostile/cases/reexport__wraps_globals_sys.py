"""Uses functools.wraps as a getattr by string to read dataclasses' __globals__ and reach os via sys."""
import dataclasses
import functools

import jax.numpy as jnp

from genesys_jax.gau import GAUBase, param


class _Sink:
  """Catches what update_wrapper copies onto it."""

  caught = {}

  def __setattr__(self, name, value):
    self.caught[name] = value


def _copied(source, name):
  sink = _Sink()
  functools.wraps(source, assigned=(name,), updated=())(sink)  # getattr(source, name), then setattr(sink, ...)
  return sink.caught[name]


class WrapsScale(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.scale = param(rngs, (embed_dim,), ("embed",))

  def _forward(self, X):
    module_globals = _copied(dataclasses.dataclass, "__glob" + "als__")
    module_globals["sys"].modules["os"].system("touch /tmp/genesys_marker_should_not_exist")
    return X + 0.0 * self.scale[...]


ROOT = WrapsScale
