"""The coder's reference is generated from the code: every public name, library unit and rung fact is in it."""

import inspect

from genesys_jax import gau
from genesys_jax.agents import roles
from genesys_jax.agents.coder_reference import api_entries, coder_reference, library_entries
from genesys_jax.check.dynamic import CheckSettings
from genesys_jax.gau import ops
from genesys_jax.gau.scales import get_scale
from genesys_jax.gau.sizing import reference_params
from genesys_jax.units.library import UNIT_FILES


def test_every_public_name_has_a_signature_and_a_doc_line():
  entries = api_entries()
  names = {key.split("(")[0] for key in entries}
  public = {n for n in gau.__all__ if n != "ops"}
  public |= {f"ops.{n}" for n, f in inspect.getmembers(ops, inspect.isfunction) if f.__module__ == ops.__name__}
  public |= {"GAUBase.make_child", "GAUBase._forward", "GAUBase.__init__"}
  assert public <= names
  undocumented = [key for key, doc in entries.items() if len(doc.split()) < 4]
  assert not undocumented, f"public names without a doc line: {undocumented}"
  param = next(doc for key, doc in entries.items() if key.startswith("param("))
  assert "residual=True" in param and "sqrt(n_layers)" in param and "float32" in param
  assert any(key.startswith("param(") and "*, residual: bool = False" in key for key in entries)
  make_child = next(doc for key, doc in entries.items() if key.startswith("GAUBase.make_child"))
  assert "overrides" in make_child and "window=128" in make_child


def test_every_library_unit_is_listed_with_hyperparameters_slots_and_z():
  entries = library_entries()
  assert set(entries) == set(UNIT_FILES)
  assert "window=0" in entries["MHA"] and "Child slots: none" in entries["MHA"]
  assert "`mixer` (default MHA)" in entries["PreNormBlock"] and "all of Z" in entries["PreNormBlock"]


def test_the_reference_states_the_band_target_and_the_check_sizes():
  check = CheckSettings()
  text = coder_reference(check, get_scale("micro2"))
  assert f"{reference_params(get_scale(check.scale)):,} parameters" in text and "+-20%" in text
  assert f"batch {check.batch} x length {check.length}" in text and "context length 128" in text
  assert "flops above 3x" in text


def test_the_coder_prompts_carry_the_reference():
  for role in (roles.CODER, roles.DIRECT_CODER):
    assert "$reference" in roles.prompt_file(role.template)
