from genesys_jax.gau import GAUBase


class Spin(GAUBase):
  def _forward(self, X):
    while True:
      X = X + 1
    return X


ROOT = Spin
