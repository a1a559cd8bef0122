from genesys_jax.gau import GAUBase


class Writer(GAUBase):
  def _forward(self, X):
    with open("/tmp/genesys_marker_should_not_exist", "w") as f:
      f.write("escaped")
    return X


ROOT = Writer
