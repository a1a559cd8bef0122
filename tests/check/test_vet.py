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
    ("from flax import linen", "import"),
    ("from . import x", "import"),
    ("from jax.numpy import *", "import"),
    ("f = open('/tmp/marker', 'w')", "banned-name"),
    ("x = eval('1 + 1')", "banned-name"),
    ("exec('import os')", "banned-name"),
    ("m = __import__('os')", "banned-name"),
    ("g = globals()", "banned-name"),
    ("v = vars()", "banned-name"),
    ("breakpoint()", "banned-name"),
    ("c = compile('1', 'f', 'eval')", "banned-name"),
    ("s = ().__class__.__bases__[0].__subclasses__()", "dunder"),
    ("b = jax.__builtins__", "dunder"),
    ("d = jnp.__dict__", "dunder"),
    ("import numpy as np\na = np.load('x.npy')", "banned-attribute"),
    ("import numpy as np\nnp.save('x.npy', 1)", "banned-attribute"),
    ("import numpy as np\nm = np.memmap('x', mode='w+')", "banned-attribute"),
    ("import numpy as np\nlib = np.ctypeslib", "banned-attribute"),
    ("a = jnp.fromfile('x')", "banned-attribute"),
    ("cb = jax.pure_callback", "banned-attribute"),
    ("from jax.experimental import io_callback", "banned-attribute"),
    ("n = 'sys' + 'tem'\nf = getattr(jax, n)", "reflection"),
    ("setattr(jax, '__x__', 1)", "reflection"),
])
def test_escapes_are_rejected(body, rule):
  assert rule in _rules(body)


def test_findings_name_file_and_line():
  (finding,) = vet_source(HEADER + "f = open('x')" + UNIT, "evil.py")
  assert str(finding).startswith("evil.py line 4: 'open' is not allowed")


def test_syntax_error():
  (finding,) = vet_source("def f(:\n", "bad.py")
  assert finding.rule == "syntax" and finding.line == 1


@pytest.mark.parametrize("src, message", [
    ("from flax import nnx\nclass M(nnx.Module):\n  pass\n", "subclasses GAUBase only"),
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
