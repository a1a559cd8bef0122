"""The coder's reference, generated from the code so it cannot drift: every name a unit may import (its
signature and the first line of its docstring), every library unit (hyperparameters with defaults,
child slots, the `Z` entries it reads and writes), and the rung it will be checked and sized at.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from genesys_jax import gau
from genesys_jax.check.dynamic import FAMILY_LIMITS, RATIO_LIMITS, TIME_REJECTS_ON, CheckSettings
from genesys_jax.check.sandbox import Limits
from genesys_jax.gau import ops
from genesys_jax.gau.base import GAUBase, _z_names
from genesys_jax.gau.layers import DEFAULT_INIT_STDDEV
from genesys_jax.gau.scales import Scale, get_scale
from genesys_jax.gau.sizing import BAND_TOLERANCE, candidate_widths, reference_params
from genesys_jax.units.catalog import catalog
from genesys_jax.units.library import UNIT_FILES, unit_class

GAU_METHODS = ("__init__", "make_child", "_forward")
"""The GAUBase methods a unit calls or implements."""


def _first_line(obj: Any) -> str:
  doc = inspect.getdoc(obj) or ""
  return " ".join(doc.split("\n\n")[0].split())


def _default(value: Any) -> str:
  if value is gau.default_init:
    return "default_init"
  if inspect.isclass(value) or inspect.isfunction(value):
    return getattr(value, "__name__", repr(value))
  return repr(value)


def _signature(obj: Callable[..., Any]) -> str:
  """`obj`'s parameters as written in code (a class: its constructor's, without `self`)."""
  target = obj.__init__ if inspect.isclass(obj) else obj
  params = list(inspect.signature(target).parameters.values())
  if inspect.isclass(obj) and params and params[0].name == "self":
    params = params[1:]
  parts, bare_star = [], True  # a bare `*` goes before the first keyword-only parameter unless `*args` did
  for p in params:
    if p.kind == p.VAR_POSITIONAL:
      bare_star = False
    if p.kind == p.KEYWORD_ONLY and bare_star:
      parts.append("*")
      bare_star = False
    text = str(p.replace(default=inspect.Parameter.empty)).replace("'", "")
    parts.append(text + (f" = {_default(p.default)}" if p.default is not p.empty else ""))
  return f"({', '.join(parts)})"


def api_entries() -> dict[str, str]:
  """`name(signature)` -> what it does, for every public name of `genesys_jax.gau`, each `ops` function and
  the GAUBase methods a unit uses. Values that are not functions or classes are described by their value."""
  entries: dict[str, str] = {}
  for name in gau.__all__:
    obj = getattr(gau, name)
    if name == "ops":
      continue
    if name == "LOGICAL_AXES":
      entries[name] = f"the axis names `param` accepts (or None for an unsharded dimension): {', '.join(obj)}"
    elif name == "default_init":
      entries[name] = f"the initializer `param` uses unless given one: normal with standard deviation {DEFAULT_INIT_STDDEV}"
    elif inspect.isclass(obj) and issubclass(obj, Exception):
      entries[name] = _first_line(obj)
    else:
      entries[f"{name}{_signature(obj)}"] = _first_line(obj)
  for name, fn in inspect.getmembers(ops, inspect.isfunction):
    if fn.__module__ == ops.__name__ and not name.startswith("_"):
      entries[f"ops.{name}{_signature(fn)}"] = _first_line(fn)
  for name in GAU_METHODS:
    method = getattr(GAUBase, name)
    entries[f"GAUBase.{name}{_signature(method)}"] = _first_line(method)
  return entries


def library_entries() -> dict[str, str]:
  """Unit name -> its kind, summary, constructor hyperparameters, child slots and `Z` use."""
  info = catalog()
  out = {}
  for unit in UNIT_FILES:
    cls = unit_class(unit)
    params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.kind == p.KEYWORD_ONLY
              and p.name != "rngs"]
    hparams = ", ".join(f"{p.name}={p.default!r}" for p in params) or "none"
    slots = "; ".join(
        f"`{c.slot}` (default {c.unit}{', reads Z ' + '/'.join(c.reads) if c.reads else ''}"
        f"{', writes Z ' + '/'.join(c.writes) if c.writes else ''}): {c.doc}" for c in cls.CHILDREN) or "none"
    reads = _z_names(cls._forward)
    z_text = "all of Z (**Z)" if reads is None else (", ".join(reads) or "nothing")
    kind = info[unit].kind if unit in info else "unit"
    summary = info[unit].summary if unit in info else _first_line(cls)
    out[unit] = (f"{kind}: {summary.rstrip('.')}. Hyperparameters: {hparams}. Child slots: {slots}. "
                 f"Reads from Z: {z_text}.")
  return out


def rung_text(check: CheckSettings, rung: Scale, timeout_s: float = Limits.timeout_s) -> str:
  """How the design will be checked, sized and trained: the check sizes, its parameter band, the rung."""
  band = get_scale(check.scale)
  target = reference_params(band)
  widths = candidate_widths(band)
  limits = ", ".join(f"{what} above {reject:g}x" for what, (_, reject) in RATIO_LIMITS.items())
  return (f"- The checker runs a one-block model at embed_dim={check.small_embed_dim}, then the model at "
          f"{band.name} size, on batch {check.batch} x length {check.length} (causality at "
          f"{check.causality_positions} positions, {check.train_steps} training steps whose loss must fall).\n"
          f"- Parameter band: at {band.name} the whole model must have {target:,} parameters (the GPT2 seed's "
          f"count there) within +-{BAND_TOLERANCE:.0%}; the design is sized by changing the number of layers "
          f"first, then the width (in multiples of {band.width_multiple}, from {min(widths)} to {max(widths)} at "
          f"{band.name}), so a block's parameters must grow with embed_dim like a Transformer block's (about "
          "12 * embed_dim^2), and a unit must work at every such width (derive head counts from embed_dim, at "
          "least one head).\n"
          f"- The whole check has a wall-clock limit of {timeout_s:g} s.\n"
          f"- Efficiency: {limits} of the GPT seed's training step reject (time only on "
          f"{' and '.join(TIME_REJECTS_ON)}; on a CPU it is a warning; memory or FLOPs over the limit still "
          f"pass within {FAMILY_LIMITS['memory']:g}x of the seed the design descends from).\n"
          f"- Training starts at rung {rung.name}: context length {rung.seq_len}, embed_dim {rung.embed_dim}, "
          f"{rung.n_layers} layers, vocabulary {rung.vocab_size}; larger rungs follow for the best designs.")


@functools.cache
def coder_reference(check: CheckSettings, rung: Scale, timeout_s: float = Limits.timeout_s) -> str:
  """The whole reference as the coder's prompt shows it (the same for every session of a run)."""
  api = "\n".join(f"- `{name}`: {doc}" for name, doc in api_entries().items())
  library = "\n".join(f"- {unit}: {text}" for unit, text in library_entries().items())
  return (f"## Names a unit may import from genesys_jax.gau\n{api}\n\n"
          f"## Library units (fill slots with these, or wrap them)\n{library}\n\n"
          f"## Where the design will run\n{rung_text(check, rung, timeout_s)}")


def default_reference() -> str:
  """The reference for the checker's default settings, training from their rung."""
  check = CheckSettings()
  return coder_reference(check, get_scale(check.scale))
