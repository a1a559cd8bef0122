"""RWKV6 channel-mix: token-shifted squared-ReLU feed-forward with a sigmoid receptance gate."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, gau_test, ops, param


class RWKV6ChannelMix(GAUBase):
  """`sigmoid(r(x')) * v(relu(k(x''))^2)` where x', x'' interpolate each token with the previous one."""

  def __init__(self, embed_dim, block_loc, *, rngs, hidden_mult: float = 3.5):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    hidden = int(hidden_mult * embed_dim) // 8 * 8
    mix_init = jax.nn.initializers.uniform(1.0)
    self.mu_k = param(rngs, (embed_dim,), ("embed",), mix_init)
    self.mu_r = param(rngs, (embed_dim,), ("embed",), mix_init)
    self.w_key = param(rngs, (embed_dim, hidden), ("embed", "mlp"))
    self.w_value = param(rngs, (hidden, embed_dim), ("mlp", "embed"), residual=True)
    self.w_receptance = param(rngs, (embed_dim, embed_dim), ("embed", "mlp"))

  def _forward(self, X):
    dx = ops.token_shift(X) - X
    k = jnp.square(jax.nn.relu((X + dx * self.mu_k[...]) @ self.w_key[...]))
    r = jax.nn.sigmoid((X + dx * self.mu_r[...]) @ self.w_receptance[...])
    return r * (k @ self.w_value[...])


@gau_test
def test_unit_sees_only_previous_token(build):
  unit = build(embed_dim=16)
  X = jax.random.normal(jax.random.key(0), (1, 6, 16))
  Y, _ = unit(X)
  X2 = X.at[:, 0].set(0.0)
  Y2, _ = unit(X2)
  assert jnp.allclose(Y[:, 2:], Y2[:, 2:], atol=1e-6)
