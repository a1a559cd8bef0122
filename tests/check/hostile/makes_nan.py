import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class LogOfNegative(GAUBase):
  def _forward(self, X):
    return jnp.log(-1.0 - X * X)


ROOT = LogOfNegative
