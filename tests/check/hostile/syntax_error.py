from genesys_jax.gau import GAUBase


class Broken(GAUBase):
  def _forward(self, X)
    return X


ROOT = Broken
