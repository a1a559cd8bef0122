"""Static vetting of unit code before any of it runs: parse, an allow-list of names, GAU format.

Every name a unit uses must be bound in its file, an allowed builtin or an allowed attribute of an
allowed module (`allowlist`), resolved through aliases and `from` imports. Modules are usable only
through their attributes (never as values), imported objects are read-only, and frames, code objects,
dunders, format-string fields, generators and bare `except:` are refused. Every finding names the file,
the line and what to change, so it can go straight into the coder agent's next prompt.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses

from genesys_jax.check import allowlist

ALLOWED_DUNDERS = frozenset({"__init__"})
"""The only dunder attribute a unit may name (`super().__init__(...)`)."""
ALLOWED_DUNDER_METHODS = frozenset({"__init__", "__call__", "__post_init__"})
"""Dunder methods a helper class may define (others hook into the interpreter: __del__, __exit__, ...)."""
SELF_NAMES = ("self", "cls")
_REFUSED_NODES = {
    ast.Yield: "generators are not allowed (their frames reach other modules); return lists or arrays",
    ast.YieldFrom: "generators are not allowed (their frames reach other modules); return lists or arrays",
    ast.Await: "async code is not allowed in units",
    ast.AsyncFunctionDef: "async code is not allowed in units",
    ast.Global: "`global` is not allowed; keep state in the unit (self.x) or pass it as arguments",
    ast.Nonlocal: "`nonlocal` is not allowed; return the value instead",
    ast.Match: "`match` is not allowed (its class patterns read attributes by name); use if/elif",
}
_REFUSED_BUILTINS = frozenset(n for n in dir(builtins) if n not in allowlist.ALLOWED_BUILTINS)
"""Builtins a unit may not name, nor bind: a binding in one scope would make the builtin usable in another."""


@dataclasses.dataclass(frozen=True)
class Finding:
  """One problem found in a file."""

  rule: str
  file: str
  line: int
  message: str

  def __str__(self) -> str:
    return f"{self.file} line {self.line}: {self.message}"


@dataclasses.dataclass(frozen=True)
class _Import:
  """What an imported name stands for: an allowed module, or an object from one."""

  qualified: str
  is_module: bool


def vet_source(src: str, fname: str) -> list[Finding]:
  """All findings for one unit file; an empty list means it may run (in the sandbox)."""
  try:
    tree = ast.parse(src, fname)
  except SyntaxError as e:
    return [Finding("syntax", fname, e.lineno or 0, f"syntax error: {e.msg}; fix the code so it parses")]
  findings: list[Finding] = []

  def add(rule: str, node: ast.AST, message: str) -> None:
    findings.append(Finding(rule, fname, getattr(node, "lineno", 0), message))

  imports = _imports(tree, add)
  bound = _bound_names(tree)
  own = _own_private_names(tree)
  classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
  parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
  for node in ast.walk(tree):
    if type(node) in _REFUSED_NODES:
      add("construct", node, _REFUSED_NODES[type(node)])
    elif isinstance(node, ast.ExceptHandler) and node.type is None:
      add("construct", node, "a bare `except:` also catches the checker's stop signals; name the exception")
    elif isinstance(node, ast.ClassDef) and node.keywords:
      add("construct", node, f"class {node.name} passes keywords ({node.keywords[0].arg}=...) to its "
          "class creation; metaclasses are not allowed")
    elif isinstance(node, ast.FunctionDef) and _dunder(node.name) and node.name not in ALLOWED_DUNDER_METHODS:
      add("dunder", node, f"defining {node.name} is not allowed; only {', '.join(sorted(ALLOWED_DUNDER_METHODS))}")
    elif isinstance(node, ast.keyword) and node.arg and (node.arg in allowlist.REFUSED_KEYWORDS or _dunder(node.arg)):
      add("keyword", node, f"the keyword argument {node.arg}= is not allowed in unit code")
    elif isinstance(node, (ast.arg, ast.AnnAssign, ast.FunctionDef)) and not _plain_annotation(
        node, set(imports) | classes):
      add("annotation", node, "annotations may name only types (imported ones, builtins or classes of this "
          "file), never strings or variables: libraries evaluate them as code")
    elif isinstance(node, ast.Name):
      if node.id in SELF_NAMES and isinstance(node.ctx, ast.Store):
        add("read-only", node, f"{node.id!r} may not be assigned")
      _vet_name(node, parents, imports, bound, add)
    elif isinstance(node, ast.Attribute):
      _vet_attribute(node, parents, imports, own, add)
    elif isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
      root, _ = _chain(node)
      if isinstance(root, ast.Name) and root.id in imports:
        add("read-only", node, f"items of the imported {root.id!r} may not be assigned or deleted")
  for name in sorted(set(imports) & bound):
    findings.append(Finding("rebinding", fname, 0, f"{name!r} is imported and also assigned; give the "
                            "variable another name"))
  for name in sorted((set(imports) | bound | _import_aliases(tree)) & _REFUSED_BUILTINS):
    findings.append(Finding("rebinding", fname, 0, f"{name!r} is the name of a builtin units may not use; "
                            "give your variable, parameter or import another name"))
  findings.extend(_gau_format(tree, fname))
  return sorted(findings, key=lambda f: f.line)


def _imports(tree: ast.Module, add) -> dict[str, _Import]:
  """Names bound by allowed imports; refused imports become findings."""
  imports: dict[str, _Import] = {}
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name not in allowlist.MODULES:
          add("import", node, f"import of {alias.name!r} is not allowed; unit code may import only "
              f"{_module_list()}")
        elif alias.asname:
          imports[alias.asname] = _Import(alias.name, True)
        else:
          imports[alias.name.split(".")[0]] = _Import(alias.name.split(".")[0], True)
    elif isinstance(node, ast.ImportFrom):
      module = node.module or ""
      if node.level:
        add("import", node, "relative imports are not allowed; import from genesys_jax.gau instead")
        continue
      if module not in allowlist.MODULES:
        add("import", node, f"import from {module!r} is not allowed; unit code may import only {_module_list()}")
        continue
      for alias in node.names:
        if alias.name == "*":
          add("import", node, "`import *` is not allowed; import the names you use")
        elif not allowlist.attribute_allowed(module, alias.name):
          add("attribute", node, f"`from {module} import {alias.name}` is not allowed: {alias.name} is not "
              f"among the names units may use from {module}")
        elif module != "__future__":
          qualified = f"{module}.{alias.name}"
          imports[alias.asname or alias.name] = _Import(qualified, qualified in allowlist.MODULES)
  return imports


def _import_aliases(tree: ast.Module) -> set[str]:
  """Every name any import binds, refused imports and nested scopes included."""
  return {(a.asname or a.name.split(".")[0]) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
          for a in n.names if a.name != "*"}


def _module_list() -> str:
  return ("jax (numpy, lax, nn, random, scipy, tree), flax.nnx, einops, math, numpy, functools, typing, "
          "dataclasses and genesys_jax.gau")


def _bound_names(tree: ast.Module) -> set[str]:
  """Names the file binds itself (assignments, definitions, parameters, handlers), any scope."""
  bound: set[str] = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
      bound.add(node.id)
    elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
      bound.add(node.name)
    elif isinstance(node, ast.arg):
      bound.add(node.arg)
    elif isinstance(node, ast.ExceptHandler) and node.name:
      bound.add(node.name)
    elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
      bound.add(node.name)
  return bound


def _vet_name(node: ast.Name, parents, imports: dict[str, _Import], bound: set[str], add) -> None:
  name = node.id
  if name.startswith("__") and name.endswith("__"):
    add("dunder", node, f"the name {name!r} is not allowed; dunder names are used for escapes")
  elif name in imports:
    parent = parents.get(node)
    if imports[name].is_module and not (isinstance(parent, ast.Attribute) and parent.value is node):
      add("module-value", node, f"the module {name!r} may only be used through its attributes "
          f"({name}.something), not passed around or stored")
  elif name not in bound and name not in allowlist.ALLOWED_BUILTINS:
    add("name", node, f"{name!r} is not available in unit code: it is neither defined in the file, imported "
        "from an allowed module nor an allowed builtin (no file, process, reflection or code access)")


def _vet_attribute(node: ast.Attribute, parents, imports: dict[str, _Import], own: set[str], add) -> None:
  attr = node.attr
  if attr.startswith("__") and attr.endswith("__") and attr not in ALLOWED_DUNDERS:
    add("dunder", node, f"attribute {attr!r} is not allowed; dunder attributes are used for escapes")
    return
  if attr in allowlist.OBJECT_ATTRIBUTES_DENIED:
    add("attribute", node, f"`.{attr}` is not allowed in unit code (frames, code objects, format fields, "
        "file or host-callback APIs)")
    return
  if attr.startswith("_") and not _dunder(attr) and attr not in own:
    add("attribute", node, f"the private attribute {attr!r} is not one this file defines; private "
        "attributes of other objects are internals (and lead out of the sandbox's rules)")
    return
  root, attrs = _chain(node)
  if not isinstance(node.ctx, ast.Load) and not (isinstance(root, ast.Name) and root.id in SELF_NAMES):
    add("read-only", node, f"only attributes of self may be assigned or deleted, not `.{attr}` of another "
        "object")
    return
  parent = parents.get(node)
  if isinstance(parent, ast.Attribute) and parent.value is node:
    return  # vetted as part of the longer chain
  if not (isinstance(root, ast.Name) and root.id in imports):
    return
  imported = imports[root.id]
  dotted = ".".join([root.id, *attrs])
  if not isinstance(node.ctx, ast.Load):
    add("read-only", node, f"`{dotted}` belongs to an imported module or object, which units may not "
        "assign or delete")
  if not imported.is_module:
    private = [a for a in attrs if a.startswith("_")]
    if private:
      add("attribute", node, f"`{dotted}` uses the private attribute {private[0]!r} of an imported object")
    return
  reached, refused = allowlist.resolve(imported.qualified, attrs)
  if refused is not None:
    add("attribute", node, f"`{dotted}` is not allowed: {refused} is not among the names units may use "
        f"from {reached}")
  elif reached in allowlist.MODULES and not (isinstance(parent, ast.Attribute) and parent.value is node):
    add("module-value", node, f"the module `{dotted}` may only be used through its attributes")


def _chain(node: ast.AST) -> tuple[ast.AST, list[str]]:
  """The root expression of an attribute chain (through subscripts) and the attribute names after it."""
  attrs = []
  while isinstance(node, (ast.Attribute, ast.Subscript)):
    if isinstance(node, ast.Attribute):
      attrs.append(node.attr)
    node = node.value
  return node, attrs[::-1]


def _plain_annotation(node: ast.AST, types: set[str]) -> bool:
  """Whether an annotation is made of type names only (no strings, no variables a library would evaluate)."""
  annotation = node.returns if isinstance(node, ast.FunctionDef) else node.annotation
  for n in ast.walk(annotation) if annotation is not None else ():
    if isinstance(n, ast.Constant) and n.value not in (None, Ellipsis):
      return False
    if isinstance(n, ast.Name) and n.id not in types and n.id not in allowlist.ALLOWED_BUILTINS:
      return False
  return True


def _dunder(name: str) -> bool:
  return name.startswith("__") and name.endswith("__")


def _own_private_names(tree: ast.Module) -> set[str]:
  """Private names the file defines itself: methods, class attributes and `self._x = ...` assignments."""
  own = set()
  for node in ast.walk(tree):
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
      own.add(node.name)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
      own.add(node.id)
    elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
      own.add(node.attr)
  return {n for n in own if n.startswith("_") and not _dunder(n)} | {"_forward"}


def _gau_format(tree: ast.Module, fname: str) -> list[Finding]:
  """GAU rules: units subclass GAUBase alone, do not override __call__, call children as Y, Z = c(X, **Z).

  Classes that do not subclass GAUBase are helpers (a dataclass, a NamedTuple, an nnx.Module layer).
  """
  findings = []
  parents: dict[ast.AST, ast.AST] = {}
  for node in ast.walk(tree):
    for child in ast.iter_child_nodes(node):
      parents[child] = node
  units = 0
  for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
    base_names = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "?") for b in cls.bases]
    if "GAUBase" not in base_names:
      continue
    if base_names != ["GAUBase"]:
      findings.append(Finding("gau-format", fname, cls.lineno, f"class {cls.name} subclasses "
                              f"{', '.join(base_names)}; a unit subclasses GAUBase only (write helpers as "
                              "functions, helper classes or child units)"))
      continue
    units += 1
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    if "__call__" in methods:
      findings.append(Finding("gau-format", fname, methods["__call__"].lineno,
                              f"{cls.name} overrides __call__; implement _forward(self, X, **Z) instead"))
    if "_forward" not in methods:
      findings.append(Finding("gau-format", fname, cls.lineno, f"{cls.name} has no _forward(self, X, ...)"))
    children = {t.attr for n in ast.walk(cls) if isinstance(n, ast.Assign)
                and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Attribute)
                and n.value.func.attr == "make_child" for t in n.targets
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}
    for call in [n for n in ast.walk(cls) if isinstance(n, ast.Call)]:
      f = call.func
      if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self"
              and f.attr in children):
        continue
      assign = parents.get(call)
      ok = (isinstance(assign, ast.Assign) and len(assign.targets) == 1
            and isinstance(assign.targets[0], ast.Tuple) and len(assign.targets[0].elts) == 2
            and len(call.args) == 1 and len(call.keywords) == 1 and call.keywords[0].arg is None)
      if not ok:
        findings.append(Finding("gau-format", fname, call.lineno,
                                f"child unit self.{f.attr} must be called as `Y, Z = self.{f.attr}(X, **Z)`"))
  if units == 0:
    findings.append(Finding("gau-format", fname, 1, "no unit found: define a class that subclasses GAUBase"))
  return findings
