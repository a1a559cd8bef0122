"""Asks a fresh array for its device's platform (no jax.devices call) and leaks the future on accelerators."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase


class DevicePeek(GAUBase):
  def _forward(self, X):
    with jax.ensure_compile_time_eval():  # a concrete array even while the forward is being traced
      probe = jnp.zeros(())
    on_accelerator = any(d.platform != "cpu" for d in probe.devices())
    if on_accelerator:
      X = X + jnp.roll(X, -1, axis=1)  # position t sees t+1
    return X * 1.0


ROOT = DevicePeek
