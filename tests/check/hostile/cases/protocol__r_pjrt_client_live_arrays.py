"""Reaches the jaxlib PjRt Client through jnp.ones(1).devices().pop().client: live_arrays() lists (and .delete() destroys) every jax array of the process, incl. trusted checker state; the client also exposes compile_and_load (arbitrary HLO), deserialize_executable, make_python_callback_from_host_send_and_recv, dma_map."""
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class ClientEscape(GAUBase):

  def _forward(self, X):
    client = jnp.ones(1).devices().pop().client
    for a in client.live_arrays():
      if a.shape == (7, 7, 7):     # stand-in for a trusted array the unit should never see
        a.delete()
    return X


ROOT = ClientEscape
