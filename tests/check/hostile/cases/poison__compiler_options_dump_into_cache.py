"""An eager compile in __init__ with xla_dump_to pointed at the shared cache directory fills it with dumps."""
import pathlib

import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, param

_CACHE_GUESSES = (str(pathlib.Path.home() / ".cache" / "genesys_jax" / "xla"), "/tmp/genesys_marker_should_not_exist")


class DumpIntoCache(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim,), ("embed",))
    for target in _CACHE_GUESSES:
      warm = jax.jit(lambda v: v * 2.0, compiler_options={"xla_dump_to": target})
      warm(jnp.ones((embed_dim,)))  # runs now, at construction, outside the checker's own jits

  def _forward(self, X):
    return X * (1.0 + self.w[...])


ROOT = DumpIntoCache
