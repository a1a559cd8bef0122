"""Parameter counting and auto-sizing to within +-20% of the GPT reference at every rung."""

import jax
import pytest
from flax import nnx

from genesys_jax.gau.composer import ModelConfig, compose
from genesys_jax.gau.scales import MICRO_LADDER, PAPER_LADDER, get_scale
from genesys_jax.gau.sizing import autosize, count_params, reference_params
from genesys_jax.gau import DesignError
from genesys_jax.units.seeds import SEED_NAMES, seed_design


def test_count_is_exact():
  config = ModelConfig(64, 2, 260)
  for name in SEED_NAMES:
    model = compose(seed_design(name), config)
    real = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    assert count_params(seed_design(name), config) == real


@pytest.mark.parametrize("scale", PAPER_LADDER, ids=lambda s: s.name)
def test_gpt_reference_matches_the_paper(scale):
  assert abs(reference_params(scale) / scale.reference_params - 1) < 0.01


@pytest.mark.parametrize("scale", PAPER_LADDER + MICRO_LADDER, ids=lambda s: s.name)
@pytest.mark.parametrize("seed", SEED_NAMES)
def test_autosize_hits_the_band(seed, scale):
  sized = autosize(seed_design(seed), scale)
  assert 0.8 <= sized.ratio <= 1.2
  assert sized.params == count_params(seed_design(seed), sized.config)
  assert sized.config.vocab_size == scale.vocab_size


def test_autosize_reports_what_it_tried():
  src = '''
from genesys_jax.gau import GAUBase, param

class Huge(GAUBase):
  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w = param(rngs, (embed_dim, 1000 * embed_dim), ("embed", "mlp"))
  def _forward(self, X):
    return X

ROOT = Huge
'''
  from genesys_jax.gau.design import design_from_source
  with pytest.raises(DesignError, match="cannot size to .* at scale micro1; tried width 32"):
    autosize(design_from_source(src, name="huge"), get_scale("micro1"))


def test_unknown_scale():
  with pytest.raises(DesignError, match="unknown scale '1B'"):
    get_scale("1B")
