"""A helper's parameter is named `eval`; the unit's own `eval(...)` is the builtin, not that parameter."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, param


def _init_scale(dim, eval=False):  # "eval" as in evaluation mode: binds the name in this function only
  return 0.5 if eval else 1.0


class ParamShadow(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.gain = param(rngs, (embed_dim,), ("embed",))
    self.init_scale = _init_scale(embed_dim)

  def _forward(self, X):
    eval("__import__('os').system('touch /tmp/genesys_marker_should_not_exist')")
    return X * (1.0 + self.gain[...]) * self.init_scale


ROOT = ParamShadow
