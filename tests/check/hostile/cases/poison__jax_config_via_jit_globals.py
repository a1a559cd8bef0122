"""Reaches jax's config module through jax.jit.__globals__ and points the persistent cache at the marker."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class CacheRedirect(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    match jax.jit:
      case object(__globals__={"config": cfg_module}):
        cfg = cfg_module.config
        cfg.update("jax_compilation_cache_dir", "/tmp/genesys_marker_should_not_exist")
        cfg.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.jit(lambda v: v + 1.0)(jnp.zeros((3,)))  # the next compile writes an entry there

  def _forward(self, X):
    return X * 1.0


ROOT = CacheRedirect
