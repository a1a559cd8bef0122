"""The GAU base class: a unit maps `(X, **Z)` to `(Y, Z')` with `Y` shaped like `X`.

A unit subclasses `GAUBase`, takes `(embed_dim, block_loc, *, rngs, **hyperparameters)` and implements
`_forward(self, X, **Z)` returning `Y` or `(Y, Z_updates)`. It declares its children in `CHILDREN` and
creates them with `self.make_child(slot, rngs)`; which unit fills a slot is decided by the design tree,
not by the unit's code, so the genetic operators can swap units without editing code. Children are
called as `Y, Z = self.child(X, **Z)`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import jax
from flax import nnx

from genesys_jax.gau.errors import DesignError, UnitShapeError


@dataclasses.dataclass(frozen=True)
class ChildDecl:
  """A child slot of a unit: its name, the unit that fills it by default and its use of `Z`."""

  slot: str
  unit: str
  reads: tuple[str, ...] = ()
  writes: tuple[str, ...] = ()
  doc: str = ""


class ChildResolver(Protocol):
  """What `make_child` asks while a design is being built: which unit fills a slot."""

  def build_child(
      self, parent: str, slot: str, embed_dim: int, block_loc: tuple[int, int], rngs: nnx.Rngs,
      overrides: Mapping[str, Any],
  ) -> GAUBase:
    ...


_RESOLVER: contextvars.ContextVar[ChildResolver | None] = contextvars.ContextVar(
    "genesys_gau_resolver", default=None)


@contextlib.contextmanager
def resolving_children(resolver: ChildResolver) -> Iterator[None]:
  """Within this context, `make_child` builds children through `resolver`."""
  token = _RESOLVER.set(resolver)
  try:
    yield
  finally:
    _RESOLVER.reset(token)


@functools.cache
def _z_names(forward: Callable[..., Any]) -> tuple[str, ...] | None:
  """Keyword names `_forward` accepts after `X`; None when it takes `**Z` (all of them)."""
  params = list(inspect.signature(forward).parameters.values())[2:]  # self, X
  if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
    return None
  return tuple(p.name for p in params)


class GAUBase(nnx.Module):
  """Base of every generalized autoregressive unit (GAU)."""

  CHILDREN: tuple[ChildDecl, ...] = ()

  def __init_subclass__(cls, **kwargs: Any):
    super().__init_subclass__(**kwargs)
    if "__call__" in cls.__dict__:
      raise TypeError(f"unit {cls.__name__!r} overrides __call__; implement _forward instead")

  def __init__(self, embed_dim: int, block_loc: tuple[int, int], *, rngs: nnx.Rngs):
    """Call first from a unit's constructor; `block_loc` is `(layer index, number of layers)` of the block
    the unit is in, e.g. `(0, 6)` for the first of six."""
    if not isinstance(embed_dim, int) or embed_dim <= 0:
      raise DesignError(f"embed_dim must be a positive int, got {embed_dim!r}", unit=type(self).__name__)
    self.embed_dim = embed_dim
    self.block_loc = tuple(block_loc)
    self.design_name: str | None = None  # set by the design that builds this unit, for error messages

  def make_child(self, slot: str, rngs: nnx.Rngs, **overrides: Any) -> GAUBase:
    """Builds the unit the design tree puts in `slot` (declared in CHILDREN) with the tree's hyperparameters
    for it; keyword `overrides` go to its constructor on top of those (e.g. `window=128` for an MHA child,
    `embed_dim=2 * self.embed_dim` to build it at another width)."""
    name = type(self).__name__
    if slot not in {c.slot for c in self.CHILDREN}:
      raise DesignError(f"make_child({slot!r}) names an undeclared slot; declare it in CHILDREN", unit=name)
    resolver = _RESOLVER.get()
    if resolver is None:
      raise DesignError("units with children must be built through a Design (Design.build_block)", unit=name)
    embed_dim = overrides.pop("embed_dim", self.embed_dim)
    return resolver.build_child(name, slot, embed_dim, self.block_loc, rngs, overrides)

  def _forward(self, X: jax.Array, **Z: Any) -> jax.Array | tuple[jax.Array, dict[str, Any]]:
    """The unit's computation: returns `Y` shaped like `X`, or `(Y, Z_updates)`; named keyword arguments
    after `X` receive those entries of `Z` (or `**Z` all of them)."""
    raise NotImplementedError

  def __call__(self, X: jax.Array, **Z: Any) -> tuple[jax.Array, dict[str, Any]]:
    name, design = type(self).__name__, self.design_name
    if X.ndim != 3 or X.shape[-1] != self.embed_dim:
      raise UnitShapeError(
          f"input X has shape {tuple(X.shape)}, expected [batch, length, {self.embed_dim}]",
          design=design, unit=name)
    wanted = _z_names(type(self)._forward)
    inputs = Z if wanted is None else {k: Z[k] for k in wanted if k in Z}
    out = self._forward(X, **inputs)
    Y, updates = out if isinstance(out, tuple) else (out, {})
    if not hasattr(Y, "shape") or tuple(Y.shape) != tuple(X.shape):
      got = tuple(Y.shape) if hasattr(Y, "shape") else type(Y).__name__
      raise UnitShapeError(f"output Y has shape {got} but input X has {tuple(X.shape)}; "
                           "a unit must return Y shaped like X", design=design, unit=name)
    if not isinstance(updates, Mapping):
      raise DesignError(f"_forward returned Z updates of type {type(updates).__name__}, expected a dict",
                        design=design, unit=name)
    return Y, {**Z, **updates}


def gau_test(fn: Callable[..., None]) -> Callable[..., None]:
  """Marks a function in a unit file as that unit's test; it is called with `build(embed_dim=32,
  block_loc=(0, 1), seed=0, **hyperparameters)`, which returns an instance of the file's unit (ROOT in
  a one-file block), its children filled as in the design."""
  fn.__gau_test__ = True
  return fn


def is_gau_test(obj: object) -> bool:
  """Whether `obj` was marked with `@gau_test`."""
  return callable(obj) and getattr(obj, "__gau_test__", False)
