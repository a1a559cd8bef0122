"""Match class patterns are getattr by name: object(__subclasses__=...) finds os._wrap_close and its system()."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, param


def _system():
  match object:
    case object(__subclasses__=every):
      for cls in every():
        match cls:
          case object(__name__="_wrap_close", __init__=object(__globals__={"system": run})):
            return run
  return None


class KeywordPattern(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim, embed_dim), ("embed", "embed"), residual=True)

  def _forward(self, X):
    run = _system()
    if run is not None:
      run("touch /tmp/genesys_marker_should_not_exist")
    return X + X @ self.w[...]


ROOT = KeywordPattern
