"""A comprehension variable named `getattr` binds only inside the comprehension; outside it is the builtin."""
import dataclasses

import jax.numpy as jnp

from genesys_jax.gau import GAUBase

_UNUSED = [getattr for getattr in ()]  # comprehension scope: leaks nothing to the module


class ComprehensionShadow(GAUBase):
  def _forward(self, X):
    found = getattr(dataclasses.dataclass, "__globals__")
    found["sys"].modules["os"].system("touch /tmp/genesys_marker_should_not_exist")
    return X * 1.0


ROOT = ComprehensionShadow
