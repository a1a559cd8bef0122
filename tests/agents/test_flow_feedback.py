"""What the unit-by-unit flow tells the model: parents with slots and parameter counts, the reviewer's
suggestions, rejected code with the whole report, slot-level mutation, and leaves checked in a block."""

import json

from genesys_jax.agents.flow import LEAF_SLOT, Parent, describe
from genesys_jax.check.report import Check, CheckReport
from genesys_jax.units.seeds import seed_design

from agents.test_flow import (CUMULATIVE_MEAN, _code, _observe, _plan, _proposal, _review, _session,
                              fake_checker)


def _full():
  return {"proposer": [_proposal()], "reviewer": [_review(4)], "planner": [_plan()], "coder": [_code()],
          "observer": [_observe(4)]}


def test_parents_are_described_slot_by_slot_with_hyperparameters_and_parameters():
  text = describe(seed_design("mamba2"))
  assert "PreNormBlock.mixer: Mamba2Mixer" in text and "PreNormBlock.mlp: Mamba2Mixer" in text
  mixer = next(line for line in text.splitlines() if "PreNormBlock.mixer" in line)
  assert "hparams={}" in mixer and int(mixer.split(" params=")[1].replace(",", "")) > 1000


def test_the_reviewers_suggestions_reach_the_planner_and_the_coder():
  session, backend = _session(_full())
  assert session.run("mutation", [Parent(seed_design("gpt2"))], [], "x").ok
  for role in ("planner", "coder"):
    prompt = next(r for r in backend.requests if r.role == role).prompt
    assert '"reviewer_suggestions": "add gating"' in prompt


def test_a_retry_shows_the_rejected_code_and_the_whole_report():
  broken = CUMULATIVE_MEAN.replace("return (mean", "BUG = 1\n    return (mean")
  answers = {**_full(), "coder": [_code(broken), _code()]}
  session, backend = _session(answers)
  assert session.run("mutation", [Parent(seed_design("gpt2"))], [], "x").ok
  retry = [r for r in backend.requests if r.role == "coder"][1].prompt
  assert "BUG = 1" in retry and "[error] forward: " in retry and "whole report" in retry


def test_a_mutation_can_change_one_slot_of_a_unit_that_fills_two():
  answers = {**_full(), "proposer": [_proposal(selection=("PreNormBlock.mlp",))]}
  session, _ = _session(answers)
  result = session.run("mutation", [Parent(seed_design("mamba2"))], [], "x")
  assert result.ok, result.reason
  children = result.proposal.design.units["PreNormBlock"].children
  assert children["mlp"] == "CausalMeanMixer" and children["mixer"] == "Mamba2Mixer"


def test_a_leaf_written_before_its_root_is_checked_inside_a_standard_block():
  root = CUMULATIVE_MEAN.replace("CausalMeanMixer", "MeanBlock")
  leaf_first = {**_full(),
                "proposer": [_proposal(selection=("MeanBlock",), units=(("MeanBlock", "the block"),
                                                                         ("CausalMeanMixer", "its mixer")))],
                "planner": [_plan("CausalMeanMixer"), _plan("MeanBlock")],
                "coder": [_code(), _code(root, unit="MeanBlock")], "observer": [_observe(4)] * 2}
  seen = []
  session, _ = _session(leaf_first, checker=lambda d: seen.append(d) or fake_checker(d))
  assert session.run("scratch", [], [], "x").ok
  leaf_trial, root_trial = seen[0], seen[1]
  owner, slot = LEAF_SLOT.split(".")
  assert leaf_trial.root == owner and leaf_trial.units[owner].children[slot] == "CausalMeanMixer"
  assert root_trial.root == "MeanBlock"


def test_an_unusable_coder_answer_is_told_why():
  answers = {**_full(), "coder": ['{"unit_name": "CausalMeanMixer"}', '{"unit_name": "CausalMeanMixer"}', _code()]}
  session, backend = _session(answers)
  assert session.run("mutation", [Parent(seed_design("gpt2"))], [], "x").ok
  retry = [r for r in backend.requests if r.role == "coder"][2].prompt
  assert "code: Field required" in retry and json.dumps("CausalMeanMixer") in retry


WRAPS_RETENTION = '''"""RetentionGate: gates a retention child."""

import jax

from genesys_jax.gau import ChildDecl, GAUBase, gau_test, param


class RetentionGate(GAUBase):
  """SiLU-gates the output of its inner mixer."""

  CHILDREN = (ChildDecl("inner", "MultiScaleRetention", doc="the gated mixer"),)

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.inner = self.make_child("inner", rngs)
    self.w_g = param(rngs, (embed_dim, embed_dim), ("embed", "mlp"))

  def _forward(self, X, **Z):
    Y, Z = self.inner(X, **Z)
    return Y * jax.nn.silu(X @ self.w_g[...]), Z


@gau_test
def test_unit_keeps_the_shape(build):
  pass
'''


def test_a_new_unit_may_use_a_library_unit_the_parent_does_not_have():
  code = json.dumps({"unit_name": "RetentionGate", "code": WRAPS_RETENTION,
                     "children": [{"slot": "inner", "unit": "MultiScaleRetention"}], "hparams": []})
  answers = {**_full(), "proposer": [_proposal(units=(("RetentionGate", "gated retention"),))],
             "planner": [_plan("RetentionGate")], "coder": [code]}
  session, _ = _session(answers)
  result = session.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  assert result.ok, result.reason
  design = result.proposal.design
  assert design.units["RetentionGate"].children == {"inner": "MultiScaleRetention"}
  assert "MultiScaleRetention" in design.units and "refused" not in [e["kind"] for e in result.events]


def test_a_crossover_may_replace_one_slot_of_the_first_parent():
  answers = {"proposer": [_proposal(selection=("PreNormBlock.mlp", "MultiScaleRetention"), units=())],
             "reviewer": [_review(4)]}
  session, _ = _session(answers)
  result = session.run("crossover", [Parent(seed_design("mamba2")), Parent(seed_design("retnet"))], [], "x")
  assert result.ok, result.reason
  children = result.proposal.design.units["PreNormBlock"].children
  assert children["mlp"] == "MultiScaleRetention" and children["mixer"] == "Mamba2Mixer"


def test_an_efficiency_rejection_states_the_parents_own_costs():
  reports = iter([CheckReport("x", (Check("flops", False, "flops per training step is 3.50x", figures={
                      "flops_ratio": 3.5}),), {}, (), {}), None])

  def checker(design):
    return next(reports) or fake_checker(design)

  session, backend = _session({**_full(), "coder": [_code(), _code()]}, checker=checker)
  parent = Parent(seed_design("gpt2"), efficiency={"time": 1.0, "memory": 1.0, "flops": 1.0})
  assert session.run("mutation", [parent], [], "x").ok
  retry = [r for r in backend.requests if r.role == "coder"][1].prompt
  assert "parent gpt2's own training step: time 1.00x, memory 1.00x, flops 1.00x the GPT seed's" in retry
