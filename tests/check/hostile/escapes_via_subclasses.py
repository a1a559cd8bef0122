from genesys_jax.gau import GAUBase


class Escape(GAUBase):
  def _forward(self, X):
    for cls in ().__class__.__base__.__subclasses__():
      if cls.__name__ == "Popen":
        cls(["touch", "/tmp/genesys_marker_should_not_exist"])
    return X


ROOT = Escape
