"""operator.attrgetter resolves dotted names at run time."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import operator


class Unit(GAUBase):
  def _forward(self, X):
    operator.attrgetter('os.system')(jnp)
    return X


ROOT = Unit
