"""A design's units as a reader sees them: the unit tree, and each unit file with its diff against the
first parent's file of the same unit (or the same file name)."""

from __future__ import annotations

import dataclasses
import difflib
import pathlib
from collections.abc import Collection, Mapping
from typing import Any

from genesys_jax.report.html import badge, esc

Manifest = Mapping[str, Any]
"""A design's design.json: root, units {name: {file, children, hparams}}, lineage."""


@dataclasses.dataclass(frozen=True)
class Parent:
  """A parent design: its name, manifest and directory."""

  name: str
  manifest: Manifest
  directory: pathlib.Path


@dataclasses.dataclass(frozen=True)
class UnitFile:
  """One file of a design and what it is compared with: `parent`'s file `parent_file`. `diff` is None when no
  parent has a counterpart (a new file), empty when the file is unchanged."""

  name: str
  units: tuple[str, ...]
  code: str | None
  parent: str | None
  parent_file: str | None
  diff: tuple[str, ...] | None


def reachable(manifest: Manifest) -> list[str]:
  """The units in tree order from the root (depth first), then any others."""
  units = manifest.get("units", {})
  order: list[str] = []
  def visit(name: str) -> None:
    if name in units and name not in order:
      order.append(name)
      for child in units[name].get("children", {}).values():
        visit(child)
  visit(manifest.get("root", ""))
  return order + [u for u in units if u not in order]


def _read(directory: pathlib.Path | None, name: str | None) -> str | None:
  if directory is None or name is None or not (directory / name).is_file():
    return None
  return (directory / name).read_text(errors="replace")


def _same_unit(owners: list[str], parent: Parent) -> tuple[Parent, str] | None:
  units = parent.manifest.get("units", {})
  unit = next((u for u in owners if u in units), None)
  return (parent, units[unit]["file"]) if unit is not None else None


def _counterpart(owners: list[str], name: str, parents: list[Parent]) -> tuple[Parent, str] | None:
  """The first parent's file of the same unit, else of the same name; else another parent's file of the same
  unit (a crossover's donor)."""
  if not parents:
    return None
  match = _same_unit(owners, parents[0])
  if match is None and name in {spec.get("file") for spec in parents[0].manifest.get("units", {}).values()}:
    match = parents[0], name
  for other in parents[1:]:
    match = match or _same_unit(owners, other)
  return match


def unit_files(manifest: Manifest, directory: pathlib.Path, parents: list[Parent]) -> list[UnitFile]:
  """The design's files in tree order, each compared with its counterpart in the parents."""
  units = manifest.get("units", {})
  files: dict[str, list[str]] = {}
  for unit in reachable(manifest):
    files.setdefault(units[unit].get("file", ""), []).append(unit)
  out = []
  for name, owners in files.items():
    code = _read(directory, name)
    match = _counterpart(owners, name, parents)
    old = _read(match[0].directory, match[1]) if match else None
    if old is None or code is None:
      out.append(UnitFile(name, tuple(owners), code, None, None, None))
      continue
    parent, parent_file = match
    diff = difflib.unified_diff(old.splitlines(), code.splitlines(), f"{parent.name}/{parent_file}", f"this/{name}",
                                lineterm="", n=3)
    out.append(UnitFile(name, tuple(owners), code, parent.name, parent_file, tuple(diff)))
  return out


def _hparams(spec: Mapping[str, Any]) -> str:
  return ", ".join(f"{k}={v}" for k, v in spec.get("hparams", {}).items())


def unit_tree_html(manifest: Manifest, changed: Collection[str], parents: list[Manifest]) -> str:
  """The tree as nested lists: slot, unit, file and hyperparameters; changed and new units marked, and
  hyperparameters that differ from the first parent's shown beside the parent's."""
  units = manifest.get("units", {})
  known = {u for p in parents for u in p.get("units", {})}
  first = parents[0].get("units", {}) if parents else {}
  def item(slot: str | None, name: str, path: tuple[str, ...]) -> str:
    spec = units.get(name)
    label = (f'<span class="slot">{esc(slot)}:</span> ' if slot else "") + f'<span class="unit">{esc(name)}</span>'
    if spec is None:
      return f"<li>{label} {badge('missing', 'bad')}</li>"
    marks = (badge("changed") if name in changed else "") + (badge("new") if parents and name not in known else "")
    hparams = _hparams(spec)
    was = _hparams(first[name]) if name in first else hparams
    if was != hparams:
      marks = f'<span class="was">was {esc(was or "the defaults")}</span> {marks}'
    text = (f'{label} <span class="file">{esc(spec.get("file", ""))}</span>'
            f'{f" <code>{esc(hparams)}</code>" if hparams else ""} {marks}')
    kids = "" if name in path else "".join(item(s, c, path + (name,)) for s, c in spec.get("children", {}).items())
    cls = ' class="changed"' if name in changed else ""
    return f"<li{cls}>{text}{f'<ul>{kids}</ul>' if kids else ''}</li>"
  root = manifest.get("root")
  if not root:
    return '<p class="empty">no manifest recorded</p>'
  return f'<ul class="tree">{item(None, root, ())}</ul>'


def diff_html(lines: tuple[str, ...]) -> str:
  """A unified diff with added, removed and hunk lines coloured."""
  out = []
  for line in lines:
    kind = ("meta" if line.startswith(("+++", "---")) else "hunk" if line.startswith("@@")
            else "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
    out.append(f'<span class="{kind}">{esc(line)}</span>')
  return f'<pre class="diff">{chr(10).join(out)}</pre>'


def code_html(code: str) -> str:
  """Source with line numbers."""
  rows = "".join(f'<span class="ln">{k}</span>{esc(line)}\n' for k, line in enumerate(code.splitlines(), 1))
  return f'<pre class="code">{rows}</pre>'
