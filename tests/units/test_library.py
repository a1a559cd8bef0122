"""Every library unit that can fill a block's slots is causal, trainable and passes its own tests."""

import jax
import pytest
from flax import nnx

from genesys_jax.check import probes
from genesys_jax.gau.composer import LanguageModel, ModelConfig
from genesys_jax.units.library import UNIT_FILES, unit_source
from genesys_jax.units.seeds import SEED_TREES, library_design

MIXERS = ["MHA", "Mamba2Mixer", "MultiScaleRetention", "RWKV6TimeMix", "TTTLinear", "LinearAttention",
          "ShortConv"]
CHANNEL_MIXERS = ["GatedMLP", "RWKV6ChannelMix"]


def _design(mixer, mlp="GatedMLP", hparams=None):
  tree = {"PreNormBlock": {"norm1": "RMSNorm", "mixer": mixer, "norm2": "RMSNorm", "mlp": mlp}}
  return library_design(f"{mixer}+{mlp}", "PreNormBlock", tree, hparams).materialize()


COMPOSITES = {  # root or wrapper -> the tree it is tested in
    "ParallelBlock": ("ParallelBlock", {"ParallelBlock": {"norm": "RMSNorm", "mixer": "MHA", "mlp": "GatedMLP"}}),
    "ConvPreMixer": ("PreNormBlock", {"PreNormBlock": {"norm1": "RMSNorm", "mixer": "ConvPreMixer", "norm2": "RMSNorm",
                                                      "mlp": "GatedMLP"},
                                      "ConvPreMixer": {"conv": "ShortConv", "inner": "MultiScaleRetention"}}),
    "GatedMixer": ("PreNormBlock", {"PreNormBlock": {"norm1": "RMSNorm", "mixer": "GatedMixer", "norm2": "RMSNorm",
                                                    "mlp": "GatedMLP"},
                                    "GatedMixer": {"inner": "LinearAttention"}}),
}


def test_every_library_unit_is_in_a_test_here_or_a_seed():
  used = set(MIXERS) | set(CHANNEL_MIXERS) | set(COMPOSITES) | {"PreNormBlock", "RMSNorm"}
  assert used == set(UNIT_FILES)
  assert all(u in UNIT_FILES for tree in SEED_TREES.values() for slots in tree.values() for u in slots.values())
  assert all(unit_source(u) for u in UNIT_FILES)


@pytest.mark.parametrize("mixer", ["LinearAttention", "ShortConv", "MHA-window", *COMPOSITES])
def test_extra_mixers_are_causal_and_trainable(mixer):
  if mixer in COMPOSITES:
    root, tree = COMPOSITES[mixer]
    md = library_design(mixer, root, tree).materialize()
  else:
    hparams = {"MHA": {"window": 8}} if mixer == "MHA-window" else None
    md = _design(mixer.split("-")[0], hparams=hparams)
  assert [r for r in md.run_unit_tests() if r[2] is not None] == []
  model = LanguageModel(md, ModelConfig(32, 2, 260), rngs=nnx.Rngs(0))
  tokens = jax.random.randint(jax.random.key(0), (2, 33), 0, 260)
  assert probes.causality_leaks(probes.jitted_forward(model), tokens, range(0, 32, 4), 260) == []
  assert probes.gradient_report(model, tokens) == probes.GradientReport([], [])
  block = md.build_block(32, (0, 1), nnx.Rngs(0))
  assert probes.jacobian_leaks(block, jax.random.normal(jax.random.key(1), (1, 12, 32))) == []


def test_channel_mixers_swap_in_any_seed():
  md = _design("MultiScaleRetention", "RWKV6ChannelMix")
  model = LanguageModel(md, ModelConfig(32, 1, 260), rngs=nnx.Rngs(0))
  assert model(jax.numpy.zeros((1, 4), jax.numpy.int32)).shape == (1, 4, 260)
