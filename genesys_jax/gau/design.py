"""The design tree: units (source code), their children and hyperparameters, the root and lineage.

On disk a design is a directory holding `design.json` (the manifest) and the unit source files it
names, usually one per unit. A single `.py` file defining all units of a block and naming its root in a
module-level `ROOT` is a design too; its tree follows the units' default child declarations.

Loading reads text only. `materialize` executes the unit sources (inside the checker's sandbox when
the code is untrusted) and validates the tree: declared slots filled, no cycles, a GAU root.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import pathlib
import sys
import types
from collections.abc import Callable, Collection, Mapping
from typing import Any

from flax import nnx

from genesys_jax.files import write_json_atomic
from genesys_jax.gau.base import GAUBase, is_gau_test, resolving_children
from genesys_jax.gau.errors import DesignError

MANIFEST = "design.json"
FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Lineage:
  """Where a design came from: its parents' hashes, the operator and the unit it changed."""

  parents: tuple[str, ...] = ()
  operator: str = "seed"
  changed_units: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class UnitSpec:
  """One unit of a design: the file defining it, who fills its child slots, its hyperparameters."""

  file: str
  children: Mapping[str, str] = dataclasses.field(default_factory=dict)
  hparams: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Design:
  """A block design: a tree of units rooted at `root`, with the source of every unit file."""

  name: str
  root: str
  units: Mapping[str, UnitSpec]
  files: Mapping[str, str]
  lineage: Lineage = Lineage()

  # ---- identity -------------------------------------------------------------------------------

  def content_hash(self) -> str:
    """A stable hash of what the design computes: tree, hyperparameters and code (not name/lineage)."""
    def norm(src: str) -> str:
      return "\n".join(line.rstrip() for line in src.replace("\r\n", "\n").strip().split("\n"))
    body = {
        "root": self.root,
        "units": {
            n: {"children": dict(sorted(u.children.items())), "hparams": u.hparams,
                "code": hashlib.sha256(norm(self.files[u.file]).encode()).hexdigest()}
            for n, u in sorted(self.units.items())
        },
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

  def reachable_units(self) -> list[str]:
    """Units reachable from the root, depth first; raises on a cycle or a missing unit."""
    order: list[str] = []
    def visit(name: str, path: tuple[str, ...]) -> None:
      if name in path:
        raise DesignError(f"the tree has a cycle: {' -> '.join(path + (name,))}", design=self.name, unit=name)
      if name not in self.units:
        parent = path[-1] if path else None
        raise DesignError(f"unit {name!r} is used but not defined in the manifest",
                          design=self.name, unit=parent)
      if name not in order:
        order.append(name)
      for child in self.units[name].children.values():
        visit(child, path + (name,))
    visit(self.root, ())
    return order

  # ---- disk -----------------------------------------------------------------------------------

  def save(self, directory: str | pathlib.Path) -> pathlib.Path:
    """Writes the manifest and the unit files into `directory` (created if needed)."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for fname, src in self.files.items():
      (directory / fname).write_text(src)
    manifest = {
        "format": FORMAT_VERSION,
        "name": self.name,
        "root": self.root,
        "units": {n: {"file": u.file, "children": dict(u.children), "hparams": dict(u.hparams)}
                  for n, u in self.units.items()},
        "lineage": dataclasses.asdict(self.lineage),
        "content_hash": self.content_hash(),
    }
    write_json_atomic(directory / MANIFEST, manifest, sort_keys=True)
    return directory

  # ---- building -------------------------------------------------------------------------------

  def materialize(self) -> MaterializedDesign:
    """Executes the unit sources and validates the tree against the units' declarations."""
    self.reachable_units()
    namespaces: dict[str, dict[str, Any]] = {}
    for fname, src in self.files.items():
      namespaces[fname] = _exec_source(src, fname, self.name)
    classes: dict[str, type[GAUBase]] = {}
    for name, spec in self.units.items():
      if spec.file not in namespaces:
        raise DesignError(f"unit file {spec.file!r} is missing", design=self.name, unit=name)
      cls = namespaces[spec.file].get(name)
      if not (isinstance(cls, type) and issubclass(cls, GAUBase)):
        raise DesignError(f"{spec.file} must define a class {name!r} that subclasses GAUBase",
                          design=self.name, unit=name)
      declared = {c.slot for c in cls.CHILDREN}
      if set(spec.children) != declared:
        raise DesignError(
            f"manifest fills child slots {sorted(spec.children)} but the unit declares {sorted(declared)}",
            design=self.name, unit=name)
      classes[name] = cls
    return MaterializedDesign(self, classes, namespaces)

  def replace(self, **changes: Any) -> Design:
    """A copy with fields replaced."""
    return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class MaterializedDesign:
  """A design whose unit classes exist; builds blocks and runs the units' own tests."""

  design: Design
  classes: Mapping[str, type[GAUBase]]
  namespaces: Mapping[str, Mapping[str, Any]]

  def build_unit(self, unit: str, embed_dim: int, block_loc: tuple[int, int], rngs: nnx.Rngs,
                 **overrides: Any) -> GAUBase:
    """Builds `unit` and its subtree."""
    with resolving_children(_Resolver(self)):
      return self._construct(unit, embed_dim, block_loc, rngs, overrides)

  def build_block(self, embed_dim: int, block_loc: tuple[int, int], rngs: nnx.Rngs) -> GAUBase:
    """Builds the root unit (a whole block) for layer `block_loc[0]` of `block_loc[1]`."""
    return self.build_unit(self.design.root, embed_dim, block_loc, rngs)

  def _construct(self, unit: str, embed_dim: int, block_loc: tuple[int, int], rngs: nnx.Rngs,
                 overrides: Mapping[str, Any]) -> GAUBase:
    spec = self.design.units[unit]
    kwargs = {**spec.hparams, **overrides}
    try:
      instance = self.classes[unit](embed_dim, block_loc, rngs=rngs, **kwargs)
    except DesignError as e:
      if e.design is not None:
        raise
      raise type(e)(e.detail, design=self.design.name, unit=e.unit or unit) from e
    except TypeError as e:
      raise DesignError(f"constructor rejected hyperparameters {sorted(kwargs)}: {e}",
                        design=self.design.name, unit=unit) from e
    except Exception as e:  # unit code may fail in any way; name the unit
      raise DesignError(f"constructor failed: {type(e).__name__}: {e}", design=self.design.name,
                        unit=unit) from e
    instance.design_name = self.design.name
    return instance

  def unit_tests(self, skip_files: Collection[str] = ()) -> list[tuple[str, str, Callable[..., None]]]:
    """(unit, test name, function) for every `@gau_test` in the design's files but `skip_files`."""
    tests = []
    for fname, namespace in self.namespaces.items():
      if fname in skip_files:
        continue
      owner = _file_owner(self.design, fname)
      for obj_name, obj in namespace.items():
        if is_gau_test(obj):
          tests.append((owner, obj_name, obj))
    return tests

  def run_unit_tests(self, skip_files: Collection[str] = ()) -> list[tuple[str, str, str | None]]:
    """Runs the unit tests (but those in `skip_files`); (unit, test, None on success or the error)."""
    results = []
    for unit, name, fn in self.unit_tests(skip_files):
      def build(embed_dim: int = 32, block_loc: tuple[int, int] = (0, 1), seed: int = 0,
                _unit: str = unit, **overrides: Any) -> GAUBase:
        return self.build_unit(_unit, embed_dim, block_loc, nnx.Rngs(seed), **overrides)
      try:
        fn(build)
        results.append((unit, name, None))
      except Exception as e:  # a unit test may fail in any way; report it, do not crash
        results.append((unit, name, f"{type(e).__name__}: {e}"))
    return results


class _Resolver:
  """Fills child slots from the design tree while a block is being built."""

  def __init__(self, md: MaterializedDesign):
    self._md = md

  def build_child(self, parent: str, slot: str, embed_dim: int, block_loc: tuple[int, int],
                  rngs: nnx.Rngs, overrides: Mapping[str, Any]) -> GAUBase:
    child = self._md.design.units[parent].children[slot]
    return self._md._construct(child, embed_dim, block_loc, rngs, overrides)


def _file_owner(design: Design, fname: str) -> str:
  """The unit a file's tests belong to: its only unit, else the root if the root is there."""
  owners = [n for n, u in design.units.items() if u.file == fname]
  return design.root if design.root in owners else owners[0]


def _exec_source(src: str, fname: str, design: str) -> dict[str, Any]:
  """Executes one unit file as a fresh module and returns its namespace."""
  try:
    code = compile(src, fname, "exec", dont_inherit=True)  # not this file's `from __future__` imports
  except SyntaxError as e:
    raise DesignError(f"{fname} line {e.lineno}: syntax error: {e.msg}", design=design) from e
  module = types.ModuleType(f"genesys_design.{pathlib.Path(fname).stem}")
  module.__file__ = fname
  sys.modules[module.__name__] = module  # dataclasses look string annotations up in the defining module
  try:
    exec(code, module.__dict__)  # noqa: S102 - design code runs in the checker's sandbox when untrusted
  except Exception as e:
    raise DesignError(f"{fname} failed to import: {type(e).__name__}: {e}", design=design) from e
  finally:
    sys.modules.pop(module.__name__, None)
  return module.__dict__


# ---- loading ----------------------------------------------------------------------------------


def load_design(path: str | pathlib.Path) -> Design:
  """Loads a design directory (manifest + unit files) or a single block file with `ROOT`."""
  path = pathlib.Path(path)
  if path.is_dir():
    return _load_directory(path)
  if path.is_file() and path.suffix == ".py":
    return load_block_file(path)
  if not path.exists():
    raise DesignError(f"no design at {path}: expected a directory with {MANIFEST} or a .py block file")
  raise DesignError(f"{path} is neither a design directory nor a .py block file")


def _load_directory(directory: pathlib.Path) -> Design:
  name = directory.name
  manifest_path = directory / MANIFEST
  if not manifest_path.is_file():
    raise DesignError(f"{directory} has no {MANIFEST}", design=name)
  try:
    m = json.loads(manifest_path.read_text())
  except json.JSONDecodeError as e:
    raise DesignError(f"{MANIFEST} does not parse: {e}", design=name) from e
  try:
    name = str(m.get("name", name))
    root = m["root"]
    units = {
        u: UnitSpec(file=spec["file"], children=dict(spec.get("children", {})),
                    hparams=dict(spec.get("hparams", {})))
        for u, spec in m["units"].items()
    }
    lineage = Lineage(**{k: tuple(v) if isinstance(v, list) else v
                         for k, v in m.get("lineage", {}).items()})
  except (KeyError, TypeError, AttributeError) as e:
    raise DesignError(f"{MANIFEST} is malformed ({type(e).__name__}: {e}); it needs 'root' and "
                      "'units' mapping unit names to {'file', 'children', 'hparams'}", design=name) from e
  files = {}
  for unit, spec in units.items():
    fpath = directory / spec.file
    if pathlib.Path(spec.file).name != spec.file:
      raise DesignError(f"unit file name {spec.file!r} must be a plain file name", design=name, unit=unit)
    if not fpath.is_file():
      raise DesignError(f"unit file {spec.file} is missing from {directory}", design=name, unit=unit)
    files[spec.file] = fpath.read_text()
  design = Design(name=name, root=root, units=units, files=files, lineage=lineage)
  design.reachable_units()
  return design


def load_block_file(path: str | pathlib.Path) -> Design:
  """A design from one file: every GAU class in it is a unit; `ROOT` names the root."""
  path = pathlib.Path(path)
  src = path.read_text()
  return design_from_source(src, name=path.stem, fname=path.name)


def design_from_source(src: str, *, name: str, fname: str = "block.py") -> Design:
  """A design from the source of a single block file with a module-level `ROOT`, read from its syntax
  alone: none of its code runs (it may be an agent's, which runs only in the sandbox)."""
  try:
    tree = ast.parse(src, fname)
  except SyntaxError as e:
    raise DesignError(f"{fname} line {e.lineno}: syntax error: {e.msg}", design=name) from e
  classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}
  gaus: dict[str, ast.ClassDef] = {}
  while True:  # units: classes of this file that subclass GAUBase, directly or through another unit here
    found = {n: c for n, c in classes.items() if n not in gaus
             and any(_base_name(b) == "GAUBase" or _base_name(b) in gaus for b in c.bases)}
    if not found:
      break
    gaus.update(found)
  roots = [a.value for a in tree.body if isinstance(a, ast.Assign)
           and any(isinstance(t, ast.Name) and t.id == "ROOT" for t in a.targets)]
  root = roots[-1] if roots else None
  root = root.id if isinstance(root, ast.Name) else getattr(root, "value", None)
  if not isinstance(root, str):
    raise DesignError(f"{fname} must set a module-level ROOT to the root unit class (or its name)",
                      design=name)
  if root not in gaus:
    raise DesignError(f"ROOT {root!r} is not a GAU class defined in {fname}", design=name, unit=root)
  units = {n: UnitSpec(file=fname, children=_declared_children(n, gaus, fname, name)) for n in gaus}
  design = Design(name=name, root=root, units=units, files={fname: src})
  reachable = design.reachable_units()
  return design.replace(units={n: units[n] for n in reachable})


def _base_name(base: ast.expr) -> str | None:
  return base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)


def _child_decl(call: ast.expr) -> tuple[str, str]:
  """(slot, unit) of a literal `ChildDecl('slot', 'Unit', ...)` call; ValueError for anything else."""
  if not (isinstance(call, ast.Call) and _base_name(call.func) == "ChildDecl"):
    raise ValueError("not a ChildDecl call")
  fields = dict(zip(("slot", "unit"), call.args[:2])) | {k.arg: k.value for k in call.keywords}
  slot, unit = ast.literal_eval(fields["slot"]), ast.literal_eval(fields["unit"])
  if not (isinstance(slot, str) and isinstance(unit, str)):
    raise ValueError("slot and unit must be strings")
  return slot, unit


def _declared_children(unit: str, gaus: dict[str, ast.ClassDef], fname: str, design: str) -> dict[str, str]:
  """slot -> unit of a class's literal `CHILDREN = (ChildDecl('slot', 'Unit'), ...)`, else its base's."""
  cls = gaus[unit]
  for stmt in cls.body:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
        stmt, ast.AnnAssign) else []
    if any(isinstance(t, ast.Name) and t.id == "CHILDREN" for t in targets):
      try:
        return dict(_child_decl(call) for call in stmt.value.elts)
      except (AttributeError, KeyError, ValueError, TypeError) as e:
        raise DesignError(f"{fname}: {unit}.CHILDREN must be a literal tuple of ChildDecl('slot', 'Unit', ...) "
                          "with the slot and unit as string constants", design=design, unit=unit) from e
  bases = [_base_name(b) for b in cls.bases if _base_name(b) in gaus]
  return _declared_children(bases[0], gaus, fname, design) if bases else {}
