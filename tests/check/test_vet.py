"""Static vetting: every escape pattern is rejected with a line number; the library passes."""

import pytest

from genesys_jax.check.vet import vet_source
from genesys_jax.units.library import UNIT_FILES, unit_source

HEADER = "import jax\nimport jax.numpy as jnp\nfrom genesys_jax.gau import GAUBase\n"
UNIT = "\nclass U(GAUBase):\n  def _forward(self, X):\n    return X\n"


def _rules(body: str) -> set[str]:
  return {f.rule for f in vet_source(HEADER + body + UNIT, "unit.py")}


def test_library_units_pass():
  for unit, fname in UNIT_FILES.items():
    assert vet_source(unit_source(unit), fname) == [], unit


@pytest.mark.parametrize("body, rule", [
    ("import os", "import"),
    ("import subprocess", "import"),
    ("from socket import socket", "import"),
    ("import builtins", "import"),
    ("from flax import linen", "attribute"),
    ("from . import x", "import"),
    ("from jax.numpy import *", "import"),
    ("import jax._src", "import"),
    ("f = open('/tmp/marker', 'w')", "name"),
    ("x = eval('1 + 1')", "name"),
    ("exec('import os')", "name"),
    ("m = __import__('os')", "dunder"),
    ("g = globals()", "name"),
    ("v = vars()", "name"),
    ("breakpoint()", "name"),
    ("c = compile('1', 'f', 'eval')", "name"),
    ("t = type(1)", "name"),
    ("raise SystemExit(0)", "name"),
    ("g = getattr", "name"),
    ("s = ().__class__.__bases__[0].__subclasses__()", "dunder"),
    ("b = jax.__builtins__", "dunder"),
    ("d = jnp.__dict__", "dunder"),
    ("import numpy as np\na = np.load('x.npy')", "attribute"),
    ("import numpy as np\nnp.save('x.npy', 1)", "attribute"),
    ("import numpy as np\nm = np.memmap('x', mode='w+')", "attribute"),
    ("import numpy as np\nlib = np.ctypeslib", "attribute"),
    ("import numpy as np\nx = np.lib.npyio", "attribute"),
    ("a = jnp.fromfile('x')", "attribute"),
    ("cb = jax.pure_callback", "attribute"),
    ("jax.config.update('jax_compilation_cache_dir', '/tmp/x')", "attribute"),
    ("jax.profiler.start_server(9999)", "attribute"),
    ("jax.distributed.initialize()", "attribute"),
    ("jax.debug.callback(print)", "attribute"),
    ("from jax.experimental import io_callback", "import"),
    ("from jax import config", "attribute"),
    ("import typing\ns = typing.sys", "attribute"),
    ("import dataclasses\ns = dataclasses.sys", "attribute"),
    ("from genesys_jax.gau import base", "attribute"),
    ("from genesys_jax.gau.base import inspect", "attribute"),
    ("m = jnp", "module-value"),
    ("def f(m):\n  return m.os\nf(jax)", "module-value"),
    ("x = [jax.numpy][0]", "module-value"),
    ("jnp.triu = lambda *a: 0", "read-only"),
    ("del jnp.tril", "read-only"),
    ("GAUBase.extra = 1", "read-only"),
    ("a = jnp.zeros(2)\na.dump('/tmp/x')", "attribute"),
    ("a = jnp.zeros(2)\na.tofile('/tmp/x')", "attribute"),
    ("s = '{0.__class__}'.format(1)", "attribute"),
    ("s = '{a}'.format_map({'a': 1})", "attribute"),
    ("def g():\n  yield 1\nf = g().gi_frame", "construct"),
    ("def g():\n  yield 1", "construct"),
    ("try:\n  x = 1\nexcept:\n  pass", "construct"),
    ("class M(GAUBase, metaclass=object):\n  pass", "construct"),
    ("x = 1\ndef f():\n  global x", "construct"),
    ("async def f():\n  pass", "construct"),
    ("e = Exception()\nt = e.with_traceback(None).tb_frame", "attribute"),
    ("x = GAUBase._forward", "attribute"),
    ("import numpy as np\nm = np.zeros(1).ctypes._ctypes", "attribute"),
    ("x = np.test", "name"),
    ("f = jax.jit(lambda x: x, compiler_options={'xla_dump_to': '/tmp/x'})", "keyword"),
    ("c = jnp.ones(1).devices().pop().client", "attribute"),
    ("t = jax.jit(lambda x: x).trace(1).jaxpr.eqns", "attribute"),
    ("jax.lax.neg_p.def_impl(print)", "attribute"),
    ("b = GAUBase\nb.make_child = print", "read-only"),
    ("from flax import nnx\nnnx.set_graph_mode(False)", "attribute"),
    ("jax.tree_util.register_pytree_node(int, None, None)", "attribute"),
    ("class C:\n  def __exit__(self, *a):\n    return True", "dunder"),
    ("self = 1", "read-only"),
    ("def f(eval):\n  return eval\nx = eval('1')", "rebinding"),
    ("def f():\n  from math import pi as globals\n  return globals\ng = globals()", "rebinding"),
    ("try:\n  pass\nexcept ValueError as exec:\n  pass", "rebinding"),
    ("match 1:\n  case int(real=r):\n    pass", "construct"),
    ("jnp = 3", "rebinding"),
])
def test_escapes_are_rejected(body, rule):
  assert rule in _rules(body)


@pytest.mark.parametrize("body", [
    "import math\nimport einops\nx = einops.rearrange(jnp.ones((2, 3)), 'a b -> b a') * math.pi",
    "y = jax.lax.scan(lambda c, x: (c + x, c), 0.0, jnp.arange(3.0))",
    "def outer(a):\n  def inner(b):\n    return a + b\n  return inner(1)",
    "import dataclasses\n@dataclasses.dataclass\nclass Cfg:\n  width: int = 4\n  heads: int = 2",
    "from typing import NamedTuple\nclass State(NamedTuple):\n  h: jax.Array\n  c: jax.Array",
    "from flax import nnx\nclass Helper(nnx.Module):\n  def __init__(self, rngs):\n"
    "    self.w = nnx.Linear(2, 2, rngs=rngs)",
    "import functools\nf = functools.partial(jnp.einsum, 'ij,jk->ik')",
    "x = jnp.linalg.norm(jnp.ones(3)) + jax.nn.gelu(1.0) + jax.random.normal(jax.random.key(0), ())",
    "s = f'{1:>4}'\nprint(s)",
    "try:\n  x = 1\nexcept ValueError as e:\n  raise RuntimeError(str(e))",
    "class H:\n  def _heads(self, x):\n    return x\ndef helper(unit):\n  return unit._heads(1)",
])
def test_unusual_code_passes(body):
  assert vet_source(HEADER + body + UNIT, "unit.py") == []


def test_findings_name_file_and_line():
  (finding,) = vet_source(HEADER + "f = open('x')" + UNIT, "evil.py")
  assert str(finding).startswith("evil.py line 4: 'open' is not available")


def test_syntax_error():
  (finding,) = vet_source("def f(:\n", "bad.py")
  assert finding.rule == "syntax" and finding.line == 1


@pytest.mark.parametrize("src, message", [
    (HEADER + "from flax import nnx\nclass M(GAUBase, nnx.Module):\n  pass\n", "subclasses GAUBase only"),
    (HEADER + "class U(GAUBase):\n  def __call__(self, X):\n    return X\n  def _forward(self, X):\n    return X\n",
     "overrides __call__"),
    (HEADER + "class U(GAUBase):\n  pass\n", "has no _forward"),
    (HEADER + "x = 1\n", "no unit found"),
    (HEADER + "from genesys_jax.gau import ChildDecl\nclass U(GAUBase):\n  CHILDREN = (ChildDecl('c', 'V'),)\n"
     "  def __init__(self, embed_dim, block_loc, *, rngs):\n    super().__init__(embed_dim, block_loc, rngs=rngs)\n"
     "    self.c = self.make_child('c', rngs)\n  def _forward(self, X, **Z):\n    return self.c(X)[0]\n",
     "must be called as `Y, Z = self.c(X, **Z)`"),
])
def test_gau_format(src, message):
  assert any(message in f.message for f in vet_source(src, "u.py"))


def test_nnx_initializers_resolve_though_not_importable():
  body = "from flax import nnx\nf = nnx.initializers.normal(0.02)\ng = nnx.initializers.zeros_init()"
  assert vet_source(HEADER + body + UNIT, "unit.py") == []
