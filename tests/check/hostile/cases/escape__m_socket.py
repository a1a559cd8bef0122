"""Opens a network connection."""
import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase
import socket


class Unit(GAUBase):
  def _forward(self, X):
    socket.create_connection(('127.0.0.1', 22))
    return X


ROOT = Unit
