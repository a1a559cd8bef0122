"""Static vetting of unit code before any of it runs: parse, allow-listed imports, no escapes, GAU format.

Every finding names the file, the line and what to change, so it can go straight into the coder
agent's next prompt.
"""

from __future__ import annotations

import ast
import dataclasses

ALLOWED_IMPORTS = ("jax", "flax.nnx", "math", "functools", "typing", "dataclasses", "einops", "numpy",
                   "genesys_jax.gau", "__future__")
"""Modules (and their submodules) unit code may import; `from flax import nnx` counts as flax.nnx."""

BANNED_NAMES = frozenset({
    "open", "exec", "eval", "compile", "__import__", "globals", "vars", "locals", "breakpoint", "input",
    "help", "exit", "quit", "memoryview", "__builtins__", "__loader__", "__spec__",
})
BANNED_ATTRIBUTES = frozenset({
    # numpy / jax.numpy file and foreign-function APIs
    "load", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt", "fromfile", "tofile",
    "fromregex", "memmap", "ctypeslib", "DataSource", "ctypes",
    # host callbacks run arbitrary Python outside the traced computation
    "pure_callback", "io_callback", "callback", "host_callback", "debug_callback",
})
ALLOWED_DUNDERS = frozenset({"__init__", "__name__"})
REFLECTION_CALLS = frozenset({"getattr", "setattr", "delattr", "hasattr"})


@dataclasses.dataclass(frozen=True)
class Finding:
  """One problem found in a file."""

  rule: str
  file: str
  line: int
  message: str

  def __str__(self) -> str:
    return f"{self.file} line {self.line}: {self.message}"


def _allowed_module(name: str) -> bool:
  return any(name == m or name.startswith(m + ".") for m in ALLOWED_IMPORTS)


def vet_source(src: str, fname: str) -> list[Finding]:
  """All findings for one unit file; an empty list means it may run (in the sandbox)."""
  try:
    tree = ast.parse(src, fname)
  except SyntaxError as e:
    return [Finding("syntax", fname, e.lineno or 0, f"syntax error: {e.msg}; fix the code so it parses")]
  findings: list[Finding] = []

  def add(rule: str, node: ast.AST, message: str) -> None:
    findings.append(Finding(rule, fname, getattr(node, "lineno", 0), message))

  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if not _allowed_module(alias.name):
          add("import", node, f"import of {alias.name!r} is not allowed; unit code may import only "
              f"{', '.join(ALLOWED_IMPORTS[:-1])}")
    elif isinstance(node, ast.ImportFrom):
      module = node.module or ""
      if node.level:
        add("import", node, "relative imports are not allowed; import from genesys_jax.gau instead")
      elif module == "flax":
        bad = [a.name for a in node.names if a.name != "nnx"]
        if bad:
          add("import", node, f"from flax import {', '.join(bad)} is not allowed; use `from flax import nnx`")
      elif not _allowed_module(module):
        add("import", node, f"import from {module!r} is not allowed; unit code may import only "
            f"{', '.join(ALLOWED_IMPORTS[:-1])}")
      for alias in node.names:
        if alias.name == "*":
          add("import", node, "`import *` is not allowed; import the names you use")
        elif alias.name in BANNED_ATTRIBUTES or alias.name.startswith("__") and module != "__future__":
          add("banned-attribute", node, f"importing {alias.name!r} is not allowed")
    elif isinstance(node, ast.Name):
      if node.id in BANNED_NAMES:
        add("banned-name", node, f"{node.id!r} is not allowed in unit code (no file, process or code access)")
      elif node.id.startswith("__") and node.id.endswith("__") and node.id not in ALLOWED_DUNDERS:
        add("dunder", node, f"the name {node.id!r} is not allowed; dunder names are used for escapes")
    elif isinstance(node, ast.Attribute):
      if node.attr.startswith("__") and node.attr.endswith("__") and node.attr not in ALLOWED_DUNDERS:
        add("dunder", node, f"attribute {node.attr!r} is not allowed; dunder attributes are used for escapes")
      elif node.attr in BANNED_ATTRIBUTES:
        add("banned-attribute", node, f"`.{node.attr}` is not allowed in unit code (file, foreign-function "
            "or host-callback API)")
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REFLECTION_CALLS:
      name_arg = node.args[1] if len(node.args) > 1 else None
      if not (isinstance(name_arg, ast.Constant) and isinstance(name_arg.value, str)
              and not name_arg.value.startswith("__")):
        add("reflection", node, f"{node.func.id}() needs a constant, non-dunder attribute name; "
            "write the attribute access directly")
  findings.extend(_gau_format(tree, fname))
  return sorted(findings, key=lambda f: f.line)


def _gau_format(tree: ast.Module, fname: str) -> list[Finding]:
  """GAU rules: units subclass GAUBase alone, do not override __call__, call children as Y, Z = c(X, **Z)."""
  findings = []
  parents: dict[ast.AST, ast.AST] = {}
  for node in ast.walk(tree):
    for child in ast.iter_child_nodes(node):
      parents[child] = node
  units = 0
  for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
    if not cls.bases:
      continue
    base_names = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "?") for b in cls.bases]
    if base_names != ["GAUBase"]:
      findings.append(Finding("gau-format", fname, cls.lineno, f"class {cls.name} subclasses "
                              f"{', '.join(base_names)}; a unit subclasses GAUBase only (write helpers as "
                              "functions or child units)"))
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
