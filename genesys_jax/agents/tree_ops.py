"""Edits of a design's unit tree that keep it well formed: fill a slot, change hyperparameters, graft.

Every edit returns a new `Design` with unreachable units and unused files pruned; a cycle, a missing
unit or two different units under one name raise `DesignError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from genesys_jax.gau.design import Design, UnitSpec
from genesys_jax.gau.errors import DesignError
from genesys_jax.units.library import UNIT_FILES, default_children, unit_source


@dataclasses.dataclass(frozen=True)
class Slot:
  """A position in the tree: `owner`'s child slot `slot`, currently filled by `filler`."""

  owner: str
  slot: str
  filler: str


def slots(design: Design) -> list[Slot]:
  """Every slot of every reachable unit, depth first."""
  return [Slot(u, s, f) for u in design.reachable_units() for s, f in design.units[u].children.items()]


def subtree(design: Design, unit: str) -> tuple[dict[str, UnitSpec], dict[str, str]]:
  """The units under (and including) `unit`, and their files."""
  units: dict[str, UnitSpec] = {}
  pending = [unit]
  while pending:
    name = pending.pop()
    if name not in units:
      units[name] = design.units[name]
      pending.extend(units[name].children.values())
  return units, {spec.file: design.files[spec.file] for spec in units.values()}


def library_units(names: Mapping[str, Mapping[str, str]],
                  hparams: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[dict[str, UnitSpec], dict[str, str]]:
  """Specs and files of library units (`name -> its children`)."""
  specs = {n: UnitSpec(UNIT_FILES[n], dict(children), dict((hparams or {}).get(n, {}))) for n, children in names.items()}
  return specs, {spec.file: unit_source(n) for n, spec in specs.items()}


def with_library_children(units: Mapping[str, UnitSpec], files: Mapping[str, str],
                          known: Collection[str]) -> tuple[dict[str, UnitSpec], dict[str, str]]:
  """`units` and `files` plus every library unit they name as a child that is neither among them nor
  `known`, each with its default children (recursively) and its file."""
  units, files = dict(units), dict(files)
  pending = [c for spec in units.values() for c in spec.children.values()]
  while pending:
    name = pending.pop()
    if name in units or name in known or name not in UNIT_FILES:
      continue
    added, added_files = library_units({name: default_children(name)})
    units.update(added)
    files.update(added_files)
    pending.extend(added[name].children.values())
  return units, files


def prune(design: Design) -> Design:
  """`design` without the units and files its root does not reach."""
  reachable = design.reachable_units()
  units = {n: design.units[n] for n in reachable}
  files = {f: design.files[f] for f in {u.file for u in units.values()}}
  return design.replace(units=units, files=files)


def _kept(design: Design, owner: str, slot: str) -> set[str]:
  """Units still reachable when `owner.slot` is emptied."""
  kept: set[str] = set()
  pending = [design.root]
  while pending:
    name = pending.pop()
    if name in kept or name not in design.units:
      continue
    kept.add(name)
    pending.extend(f for s, f in design.units[name].children.items() if (name, s) != (owner, slot))
  return kept


def fill_slot(design: Design, owner: str, slot: str, unit: str, add_units: Mapping[str, UnitSpec] = {},
              add_files: Mapping[str, str] = {}) -> Design:
  """`owner.slot` filled by `unit`, adding `add_units` (and their files) to the design.

  An added unit may replace one of the same name only where the old one was used under the slot alone.
  """
  if slot not in design.units[owner].children:
    raise DesignError(f"{owner} has no slot {slot!r}", design=design.name, unit=owner)
  kept = _kept(design, owner, slot)
  kept_files = {design.units[n].file for n in kept}
  for name, spec in add_units.items():
    if name in kept and design.units[name] != spec:
      raise DesignError(f"two different units named {name!r}", design=design.name, unit=name)
  for fname, src in add_files.items():
    if fname in kept_files and design.files[fname] != src:
      raise DesignError(f"two different files named {fname!r}", design=design.name)
  units = {**design.units, **add_units}
  owner_spec = units[owner]
  units[owner] = dataclasses.replace(owner_spec, children={**owner_spec.children, slot: unit})
  return prune(design.replace(units=units, files={**design.files, **add_files}))


def set_hparams(design: Design, unit: str, hparams: Mapping[str, Any]) -> Design:
  """`unit` with `hparams` merged over its current ones."""
  spec = design.units[unit]
  return design.replace(units={**design.units, unit: dataclasses.replace(spec, hparams={**spec.hparams, **hparams})})


def graft(design: Design, at: Slot, donor: Design, donor_unit: str) -> Design:
  """`at` filled by `donor_unit` and everything under it in `donor` (its specs and code)."""
  units, files = subtree(donor, donor_unit)
  units = {n: s for n, s in units.items() if n != at.owner}
  return fill_slot(design, at.owner, at.slot, donor_unit, units, files)
