"""The offline designer: the three genetic operators performed symbolically on unit trees, no LLM.

Mutation replaces one unit by a compatible library unit, changes one hyperparameter, or adds or
removes a wrapper (a short convolution in front of a mixer, an output gate); crossover grafts a
subtree of one parent into the other; scratch composes a new block from library units. It is the
embedded default designer and the baseline for the LLM designers.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Callable, Collection, Sequence

import numpy as np

from genesys_jax.agents import tree_ops
from genesys_jax.agents.proposal import Proposal
from genesys_jax.gau.design import Design, Lineage
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import Scale
from genesys_jax.gau.sizing import autosize
from genesys_jax.units.catalog import ACCEPTS, catalog, default_hparams, units_of_kind

_ATTEMPTS = 20


@functools.cache
def _templates() -> dict[str, str]:
  return json.loads(importlib.resources.files("genesys_jax.agents").joinpath("rationales.json").read_text())


def _summary(unit: str) -> str:
  info = catalog().get(unit)
  return info.summary if info else "a unit written for this design"


def slot_kind(design: Design, slot: tree_ops.Slot) -> str | None:
  """The kind of unit a slot takes: from the owner's catalogue entry, else from its current filler."""
  owner = catalog().get(slot.owner)
  if owner and slot.slot in owner.slots:
    return owner.slots[slot.slot]
  filler = catalog().get(slot.filler)
  return filler.kind if filler else None


def sizes_on(scales: Sequence[Scale], tolerance: float = 0.2) -> Callable[[Design], bool]:
  """A test of admissibility: the design auto-sizes within `tolerance` at every one of `scales`."""
  def admissible(design: Design) -> bool:
    try:
      md = design.materialize()
      for scale in scales:
        autosize(md, scale, tolerance)
    except DesignError:
      return False
    return True
  return admissible


class OfflineDesigner:
  """Proposes designs with a seeded random generator, so a run's proposals are reproducible.

  `admissible` filters proposals before they are returned (e.g. `sizes_on(ladder)`, so the checker's
  parameter band does not reject them); a proposal that fails it is redrawn.
  """

  def __init__(self, seed: int = 0, admissible: Callable[[Design], bool] | None = None):
    self._rng = np.random.default_rng(seed)
    self._admissible = admissible or (lambda design: True)

  def _fresh(self, design: Design, avoid: Collection[str]) -> bool:
    return design.content_hash() not in avoid and self._admissible(design)

  def _pick(self, options: Sequence):
    return options[int(self._rng.integers(len(options)))]

  # ---- mutation ---------------------------------------------------------------------------------

  def mutate(self, parent: Design, name: str, avoid: Collection[str] = ()) -> Proposal:
    """One small change to `parent`: replace a unit, change a hyperparameter, wrap or unwrap a mixer.

    Designs whose content hash is in `avoid` (known designs) are not proposed.
    """
    edits: list[Callable[[Design], tuple[Design, str, str]]] = [
        self._replace, self._replace, self._hparams, self._hparams, self._wrap, self._unwrap]
    for _ in range(_ATTEMPTS):
      try:
        design, changed, rationale = self._pick(edits)(parent)
      except _NoMove:
        continue
      if not self._fresh(design, avoid):
        continue
      return _proposal(design, name, "mutation", (parent,), (changed,), rationale)
    raise DesignError(f"no mutation of {parent.name} found in {_ATTEMPTS} tries", design=parent.name)

  def _mutable_slots(self, design: Design) -> list[tuple[tree_ops.Slot, str]]:
    return [(s, k) for s in tree_ops.slots(design) if (k := slot_kind(design, s)) in ("mixer", "channel", "norm")]

  def _replace(self, parent: Design) -> tuple[Design, str, str]:
    slots = [(s, k) for s, k in self._mutable_slots(parent) if k != "norm"]
    if not slots:
      raise _NoMove
    slot, kind = self._pick(slots)
    options = [u for u in units_of_kind(*ACCEPTS[kind]) if u != slot.filler and not catalog()[u].wrapper
               and u not in parent.units]
    if not options:
      raise _NoMove
    new = self._pick(options)
    specs, files = tree_ops.library_units({new: {}})
    design = tree_ops.fill_slot(parent, slot.owner, slot.slot, new, specs, files)
    return design, new, _templates()["replace"].format(
        parent=parent.name, slot=slot.slot, owner=slot.owner, old=slot.filler, old_summary=_summary(slot.filler),
        new=new, new_summary=_summary(new))

  def _hparams(self, parent: Design) -> tuple[Design, str, str]:
    units = [u for u in parent.reachable_units() if u in catalog() and catalog()[u].hparams]
    if not units:
      raise _NoMove
    unit = self._pick(units)
    hparam = self._pick(sorted(catalog()[unit].hparams))
    current = parent.units[unit].hparams.get(hparam, default_hparams(unit).get(hparam))
    options = [v for v in catalog()[unit].hparams[hparam] if v != current]
    if not options:
      raise _NoMove
    value = self._pick(options)
    design = tree_ops.set_hparams(parent, unit, {hparam: value})
    return design, unit, _templates()["hparams"].format(
        parent=parent.name, unit=unit, summary=_summary(unit), hparam=hparam, new=value,
        old=current)

  def _wrap(self, parent: Design) -> tuple[Design, str, str]:
    wrappers = [w for w in units_of_kind("mixer") if catalog()[w].wrapper and w not in parent.units]
    slots = [s for s, k in self._mutable_slots(parent) if k == "mixer" and not _is_wrapper(s.filler)]
    if not wrappers or not slots:
      raise _NoMove
    wrapper, slot = self._pick(wrappers), self._pick(slots)
    info = catalog()[wrapper]
    children = {s: slot.filler if s == info.wrapper else self._pick(
        [u for u in units_of_kind(k) if not catalog()[u].wrapper and u not in parent.units] or [slot.filler])
        for s, k in info.slots.items()}
    extra = {c: {} for c in children.values() if c not in parent.units}
    specs, files = tree_ops.library_units({wrapper: children, **extra})
    design = tree_ops.fill_slot(parent, slot.owner, slot.slot, wrapper, specs, files)
    return design, wrapper, _templates()["wrap"].format(
        parent=parent.name, inner=slot.filler, inner_summary=_summary(slot.filler), slot=slot.slot,
        owner=slot.owner, wrapper=wrapper, wrapper_summary=_summary(wrapper))

  def _unwrap(self, parent: Design) -> tuple[Design, str, str]:
    slots = [s for s in tree_ops.slots(parent) if _is_wrapper(s.filler)]
    if not slots:
      raise _NoMove
    slot = self._pick(slots)
    inner = parent.units[slot.filler].children[catalog()[slot.filler].wrapper]
    design = tree_ops.fill_slot(parent, slot.owner, slot.slot, inner)
    return design, inner, _templates()["unwrap"].format(
        parent=parent.name, wrapper=slot.filler, wrapper_summary=_summary(slot.filler), inner=inner,
        slot=slot.slot, owner=slot.owner)

  # ---- crossover --------------------------------------------------------------------------------

  def crossover(self, first: Design, second: Design, name: str, avoid: Collection[str] = ()) -> Proposal:
    """`first` with one mixer or channel subtree taken from `second` (a different one)."""
    pairs = [(a, b) for a in tree_ops.slots(first) for b in tree_ops.slots(second)
             if slot_kind(first, a) in ("mixer", "channel") and slot_kind(first, a) == slot_kind(second, b)
             and tree_ops.subtree(first, a.filler) != tree_ops.subtree(second, b.filler)]
    for _ in range(_ATTEMPTS):
      if not pairs:
        break
      at, donor = self._pick(pairs)
      try:
        design = tree_ops.graft(first, at, second, donor.filler)
      except DesignError:
        pairs.remove((at, donor))
        continue
      if not self._fresh(design, avoid):
        pairs.remove((at, donor))
        continue
      rationale = _templates()["crossover"].format(
          first=first.name, second=second.name, slot=at.slot, old=at.filler, old_summary=_summary(at.filler),
          new=donor.filler, new_summary=_summary(donor.filler))
      return _proposal(design, name, "crossover", (first, second), (donor.filler,), rationale)
    raise DesignError(f"{first.name} and {second.name} have no compatible, different parts to exchange",
                      design=first.name)

  # ---- scratch ----------------------------------------------------------------------------------

  def scratch(self, name: str, avoid: Collection[str] = ()) -> Proposal:
    """A new block: a random root with every slot filled from the library, some hyperparameters varied."""
    for _ in range(_ATTEMPTS):
      proposal = self._compose(name)
      if self._fresh(proposal.design, avoid):
        return proposal
    raise DesignError(f"no new design composed from scratch in {_ATTEMPTS} tries", design=name)

  def _compose(self, name: str) -> Proposal:
    root = self._pick(units_of_kind("block"))
    children, hparams, fillers = {}, {}, []
    for slot, kind in catalog()[root].slots.items():
      if kind == "norm":
        unit = "RMSNorm"
      elif kind == "channel" and self._rng.random() < 0.8:
        unit = self._pick(units_of_kind("channel"))
      else:
        unit = self._pick([u for u in units_of_kind("mixer") if not catalog()[u].wrapper])
      children[slot] = unit
      if kind != "norm":
        fillers.append(f"{unit} ({_summary(unit)}) as its {slot}")
    units = {root: children, **{u: {} for u in children.values()}}
    for unit in units:
      space = catalog()[unit].hparams
      if space and self._rng.random() < 0.5:
        key = self._pick(sorted(space))
        hparams[unit] = {key: self._pick(space[key])}
    specs, files = tree_ops.library_units(units, hparams)
    design = Design(name=name, root=root, units=specs, files=files)
    rationale = _templates()["scratch"].format(root=root, root_summary=_summary(root), fillers="; ".join(fillers))
    return _proposal(design, name, "scratch", (), tuple(units), rationale)


class _NoMove(Exception):
  """This kind of edit does not apply to the parent."""


def _is_wrapper(unit: str) -> bool:
  return bool(catalog().get(unit) and catalog()[unit].wrapper)


def _proposal(design: Design, name: str, operator: str, parents: tuple[Design, ...], changed: tuple[str, ...],
              rationale: str) -> Proposal:
  lineage = Lineage(tuple(p.content_hash() for p in parents), operator, changed)
  design = design.replace(name=name, lineage=lineage)
  design.reachable_units()  # a cycle or a missing unit is a bug here: fail loudly
  return Proposal(design, operator, tuple(p.name for p in parents), changed, rationale)
