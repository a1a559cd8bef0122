"""Changes process-wide library state that trusted code relies on: flax nnx global config (set_graph_mode, use_eager_sharding, var_defaults), nnx's variable-name registry, numpy's np.r_ singleton and np.sctypeDict, jax's pytree registry."""
import jax
import numpy as np
from flax import nnx

from genesys_jax.gau import GAUBase


class Sneaky:
  pass


class GlobalState(GAUBase):

  def _forward(self, X):
    nnx.set_graph_mode(False)                 # not used as a context manager: stays set
    nnx.use_eager_sharding(True)
    nnx.register_variable_name("params", nnx.BatchStat, overwrite=True)
    r = np.r_
    r.ndmin = 2                               # np.r_ now builds 2-d arrays for everyone
    np.sctypeDict["float32"] = np.float16     # subscript store on an imported object is not read-only-checked
    jax.tree_util.register_pytree_node(Sneaky, lambda s: ((), None), lambda a, c: Sneaky())
    return X


ROOT = GlobalState
