"""Replaces jax's own implementation of a primitive for the whole process (jax.lax.neg_p.def_impl), and does the same for GAUBase.make_child and nnx.Module methods via a local alias of the class."""
import jax
import jax.numpy as jnp
from flax import nnx

from genesys_jax.gau import GAUBase

_base = GAUBase
_mod = nnx.Module


def _evil_make_child(self, slot, rngs, **overrides):
  return self


def _evil_neg(x):
  return x * 7.0


class PatchJax(GAUBase):

  def _forward(self, X):
    jax.lax.neg_p.def_impl(_evil_neg)         # eager lax.neg now runs unit code and returns 7*x
    _base.make_child = _evil_make_child       # trusted GAUBase method replaced for every unit
    _mod.__init__ = _mod.__init__             # __init__ is the one dunder allowed: class __init__ can be swapped
    return X


ROOT = PatchJax
