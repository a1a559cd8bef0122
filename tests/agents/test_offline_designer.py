"""The offline designer's operators and the tree edits under them."""

import pytest

from genesys_jax.agents import tree_ops
from genesys_jax.agents.offline_designer import OfflineDesigner, sizes_on
from genesys_jax.gau.composer import ModelConfig, abstract_model
from genesys_jax.gau.errors import DesignError
from genesys_jax.gau.scales import MICRO_LADDER
from genesys_jax.gau.sizing import autosize
from genesys_jax.units.catalog import catalog, default_hparams
from genesys_jax.units.seeds import SEED_NAMES, seed_design

SEEDS = {n: seed_design(n) for n in SEED_NAMES}


def _proposals(seed=0, n=9):
  designer = OfflineDesigner(seed, admissible=sizes_on(MICRO_LADDER))
  known, out = {d.content_hash() for d in SEEDS.values()}, []
  names = list(SEED_NAMES)
  for i in range(n):
    a = SEEDS[names[i % 5]]
    b = SEEDS["rwkv6" if a.name != "rwkv6" else "mamba2"]  # differs from `a` in both mixer and mlp
    if i % 3 == 1:
      try:
        p = designer.crossover(a, b, f"d{i}", known)
      except DesignError:  # every exchange is known or inadmissible: mutate instead, as evolution does
        p = designer.mutate(a, f"d{i}", known)
    else:
      p = designer.mutate(a, f"d{i}", known) if i % 3 == 0 else designer.scratch(f"d{i}", known)
    known.add(p.design.content_hash())
    out.append(p)
  return out


def test_every_proposal_is_new_well_formed_and_buildable_at_every_micro_rung():
  proposals = _proposals()
  hashes = [p.design.content_hash() for p in proposals]
  assert len(set(hashes)) == len(hashes) and not set(hashes) & {d.content_hash() for d in SEEDS.values()}
  for p in proposals:
    design = p.design
    assert design.lineage.operator == p.operator and design.lineage.changed_units == p.changed_units
    assert len(design.lineage.parents) == {"mutation": 1, "crossover": 2, "scratch": 0}[p.operator]
    assert set(design.files) == {design.units[u].file for u in design.reachable_units()}
    assert all(u in design.units for u in p.changed_units) and p.rationale
    md = design.materialize()
    abstract_model(md, ModelConfig(32, 2, 260))
    for scale in MICRO_LADDER:
      autosize(md, scale)


def test_proposals_are_reproducible_from_the_seed():
  first = [p.design.content_hash() for p in _proposals(3, n=4)]
  assert first == [p.design.content_hash() for p in _proposals(3, n=4)]
  assert first != [p.design.content_hash() for p in _proposals(4, n=4)]


def test_mutation_changes_one_thing_and_says_what():
  designer = OfflineDesigner(1)
  gpt2 = SEEDS["gpt2"]
  for i in range(12):
    p = designer.mutate(gpt2, f"m{i}")
    assert p.parents == ("gpt2",) and "gpt2" in p.rationale
    changed = {u for u in set(p.design.units) | set(gpt2.units)
               if p.design.units.get(u) != gpt2.units.get(u)}
    assert changed, p.rationale
    for unit, spec in p.design.units.items():  # never a no-op hyperparameter "change"
      assert all(default_hparams(unit).get(k) != v or gpt2.units.get(unit) for k, v in spec.hparams.items())


def test_crossover_takes_a_part_of_the_second_parent():
  p = OfflineDesigner(0).crossover(SEEDS["gpt2"], SEEDS["rwkv6"], "x")
  donor_units = set(SEEDS["rwkv6"].units) - set(SEEDS["gpt2"].units)
  assert set(p.design.units) & donor_units and p.parents == ("gpt2", "rwkv6")
  with pytest.raises(DesignError, match="no compatible, different parts"):
    OfflineDesigner(0).crossover(SEEDS["gpt2"], SEEDS["gpt2"], "same")


def test_inadmissible_designs_are_redrawn():
  refused = []

  def no_retention(design):
    ok = "MultiScaleRetention" not in design.units
    refused.extend([] if ok else [design])
    return ok
  designer = OfflineDesigner(5, admissible=no_retention)
  assert all("MultiScaleRetention" not in designer.scratch(f"s{i}").design.units for i in range(12))
  assert refused  # the filter did see (and refuse) some


def test_scratch_composes_a_catalogued_block():
  p = OfflineDesigner(2).scratch("s")
  assert catalog()[p.design.root].kind == "block" and p.parents == () and p.design.root in p.rationale


def test_tree_edits_refuse_name_clashes_and_cycles():
  gpt2 = SEEDS["gpt2"]
  other_rmsnorm = tree_ops.set_hparams(gpt2, "RMSNorm", {"eps": 1e-3}).units["RMSNorm"]
  with pytest.raises(DesignError, match="two different units named 'RMSNorm'"):
    tree_ops.fill_slot(gpt2, "PreNormBlock", "mixer", "RMSNorm", {"RMSNorm": other_rmsnorm})
  specs, files = tree_ops.library_units({"GatedMixer": {"inner": "GatedMixer"}})
  with pytest.raises(DesignError, match="cycle"):
    tree_ops.fill_slot(gpt2, "PreNormBlock", "mixer", "GatedMixer", specs, files)
  replaced = tree_ops.fill_slot(gpt2, "PreNormBlock", "mixer", "RMSNorm")  # the old mixer is pruned
  assert "MHA" not in replaced.units and "mha.py" not in replaced.files
