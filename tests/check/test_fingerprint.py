"""The functional fingerprint: equal for blocks that compute the same function on the training context,
different for blocks that do not, whatever their trees look like."""

from genesys_jax.agents import tree_ops
from genesys_jax.check.dynamic import fingerprint
from genesys_jax.gau.scales import get_scale
from genesys_jax.units.seeds import seed_design

CONTEXT = get_scale("micro1").seq_len  # 128


def _gpt_with_window(window: int):
  return tree_ops.set_hparams(seed_design("gpt2"), "MHA", {"window": window}).materialize()


def test_windows_shorter_than_the_context_are_different_functions():
  full = fingerprint(seed_design("gpt2").materialize(), CONTEXT)
  prints = {w: fingerprint(_gpt_with_window(w), CONTEXT) for w in (16, 64)}
  assert len({full, *prints.values()}) == 3


def test_a_window_as_long_as_the_context_is_full_attention():
  gpt = seed_design("gpt2")
  spelled_out = _gpt_with_window(CONTEXT)
  assert spelled_out.design.content_hash() != gpt.content_hash()
  assert fingerprint(spelled_out, CONTEXT) == fingerprint(gpt.materialize(), CONTEXT)


def test_a_probe_shorter_than_the_window_cannot_tell_it_apart():
  """Why the probe is as long as the context: at 16 tokens a 64-token window looks like full attention."""
  assert fingerprint(_gpt_with_window(64), 16) == fingerprint(seed_design("gpt2").materialize(), 16)
