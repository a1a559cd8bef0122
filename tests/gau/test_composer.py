"""The composer: embedding, blocks, final norm, tied head, padded vocabulary, init, Z threading."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genesys_jax.gau.composer import LanguageModel, ModelConfig, compose
from genesys_jax.gau.design import design_from_source
from genesys_jax.gau.scales import padded_vocab
from genesys_jax.units.seeds import seed_design


def test_padded_vocab_and_logits_for_true_vocab():
  model = compose(seed_design("gpt2"), ModelConfig(32, 2, 259))
  assert model.embed.shape == (264, 32)
  assert padded_vocab(32000) == 32000 and padded_vocab(50257) == 50264
  logits = nnx.jit(lambda m, t: m(t))(model, jnp.zeros((2, 5), jnp.int32))
  assert logits.shape == (2, 5, 259)


def test_head_is_tied_to_embedding():
  model = compose(seed_design("gpt2"), ModelConfig(32, 1, 16))
  names = [path for path, _ in nnx.to_flat_state(nnx.state(model, nnx.Param))]
  assert not any("head" in "/".join(map(str, p)) for p in names)
  tokens = jnp.arange(8)[None]
  base = model(tokens)
  model.embed[...] = model.embed[...].at[3].multiply(2.0)  # changing a row changes that logit everywhere
  assert not np.allclose(model(tokens)[..., 3], base[..., 3])


def test_mamba_style_init():
  n = 4
  model = compose(seed_design("gpt2"), ModelConfig(64, n, 260), seed=1)
  assert abs(float(jnp.std(model.embed[...])) - 0.02) < 0.002
  qkv_std = float(jnp.std(model.blocks[0].mixer.w_qkv[...]))
  out_std = float(jnp.std(model.blocks[0].mixer.w_out[...]))
  down_std = float(jnp.std(model.blocks[1].mlp.w_down[...]))
  assert abs(qkv_std - 0.02) < 0.002
  assert abs(out_std - 0.02 / math.sqrt(n)) < 0.001 and abs(down_std - 0.02 / math.sqrt(n)) < 0.001


def test_z_is_threaded_through_all_blocks():
  src = '''
from genesys_jax.gau import GAUBase

class Counter(GAUBase):
  def _forward(self, X, count=0):
    return X + count, {"count": count + 1}

ROOT = Counter
'''
  model = compose(design_from_source(src, name="counter"), ModelConfig(8, 3, 16))
  emb = model.embed[...]
  got = model(jnp.zeros((1, 1), jnp.int32))
  # blocks add 0, 1, 2 to the embedding of token 0 before the final norm
  x = emb[0] + 3.0
  x = x / jnp.sqrt(jnp.mean(x * x) + 1e-6)
  np.testing.assert_allclose(got[0, 0], (emb @ x)[:16], rtol=1e-5, atol=1e-6)


def test_blocks_know_their_location():
  model = compose(seed_design("rwkv6"), ModelConfig(32, 3, 260))
  assert [b.block_loc for b in model.blocks] == [(0, 3), (1, 3), (2, 3)]
  decays = [float(b.mixer.decay_base[...][0]) for b in model.blocks]
  assert decays[0] < decays[1] < decays[2]


def test_model_is_deterministic_in_its_seed():
  a = compose(seed_design("ttt"), ModelConfig(32, 1, 260), seed=3)
  b = compose(seed_design("ttt"), ModelConfig(32, 1, 260), seed=3)
  for (pa, va), (_, vb) in zip(nnx.to_flat_state(nnx.state(a, nnx.Param)), nnx.to_flat_state(nnx.state(b, nnx.Param))):
    np.testing.assert_array_equal(va[...], vb[...], err_msg=str(pa))
  assert jax.tree.structure(nnx.state(a)) == jax.tree.structure(nnx.state(b))
