"""Finds the real numpy module in jnp.einsum's __globals__ (a mapping pattern) and calls the refused np.savetxt."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class EinsumGlobals(GAUBase):
  def _forward(self, X):
    match jnp.einsum:
      case object(__globals__={"np": real_numpy}):
        real_numpy.savetxt("/tmp/genesys_marker_should_not_exist", real_numpy.zeros(1))
    return jnp.einsum("bld->bld", X)


ROOT = EinsumGlobals
