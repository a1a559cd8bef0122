"""The unit-by-unit design flow driven by scripted and replayed answers, through every branch."""

import json

import pytest

from genesys_jax.agents.flow import DesignSession, FlowSettings, Parent
from genesys_jax.agents.knowledge.search import KnowledgeEngine
from genesys_jax.agents.llm.base import Reply
from genesys_jax.agents.llm.client import LLMClient
from genesys_jax.agents.llm.costs import Ledger, Price
from genesys_jax.agents.llm.replay import RecordingBackend, ReplayBackend, ScriptedBackend
from genesys_jax.agents.llm.factory import ROLES
from genesys_jax.check.checker import check_design
from genesys_jax.check.report import Check, CheckReport
from genesys_jax.units.seeds import seed_design

CUMULATIVE_MEAN = '''"""CausalMeanMixer: each position reads the mean of the projected inputs up to it."""

import jax
import jax.numpy as jnp

from genesys_jax.gau import GAUBase, gau_test, param


class CausalMeanMixer(GAUBase):
  """Projects the input, averages it over the prefix, gates it and projects back."""

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.w_v = param(rngs, (embed_dim, embed_dim), ("embed", "mlp"))
    self.w_g = param(rngs, (embed_dim, embed_dim), ("embed", "mlp"))
    self.w_o = param(rngs, (embed_dim, embed_dim), ("mlp", "embed"), residual=True)

  def _forward(self, X):
    v = X @ self.w_v[...]
    counts = jnp.arange(1, X.shape[1] + 1, dtype=X.dtype)[None, :, None]
    mean = jnp.cumsum(v, axis=1) / counts
    return (mean * jax.nn.silu(X @ self.w_g[...])) @ self.w_o[...]


@gau_test
def test_unit_first_position_sees_only_itself(build):
  unit = build(embed_dim=32)
  X = jax.random.normal(jax.random.key(0), (1, 5, 32))
  Y, _ = unit(X)
  Y1, _ = unit(X[:, :1])
  assert jnp.allclose(Y[:, :1], Y1, atol=1e-5)
'''


def _proposal(selection=("MHA",), units=(("CausalMeanMixer", "prefix mean mixer"),), queries=()):
  return json.dumps({"title": "Prefix means", "motivation": "attention is quadratic",
                     "idea": "replace attention by a gated running mean", "selection": list(selection),
                     "new_units": [{"name": n, "description": d} for n, d in units],
                     "search_queries": list(queries)})


def _review(rating):
  return json.dumps({"novelty": rating, "soundness": rating, "efficiency": rating, "scalability": rating,
                     "rating": rating, "review": f"rated {rating}", "suggestions": "add gating"})


def _plan(unit="CausalMeanMixer"):
  return json.dumps({"next_unit": unit, "reuse": [], "notes": "keep it causal"})


def _code(code=CUMULATIVE_MEAN, unit="CausalMeanMixer"):
  return json.dumps({"unit_name": unit, "code": code, "children": [], "hparams": []})


def _observe(rating):
  return json.dumps({"rating": rating, "review": f"observed {rating}", "suggestions": "none"})


def fake_checker(design):
  """Accepts a design unless some unit's code says BUG (the real checker is exercised once below)."""
  bad = [f for f, src in design.files.items() if "BUG" in src]
  checks = (Check("forward", not bad, f"{bad} raises an error in the forward pass" if bad else "ok"),)
  return CheckReport(design.name, checks, {}, (), {})


def _session(answers, checker=fake_checker, budget=float("inf"), backend=None, ledger=None):
  backend = backend or ScriptedBackend(answers)
  ledger = ledger or Ledger()
  client = LLMClient(backend, {r: "test-model" for r in ROLES}, {"test-model": Price(1.0, 2.0)}, ledger,
                     retries=0, sleep=lambda s: None)
  return DesignSession(client, KnowledgeEngine(), checker, FlowSettings(budget_usd=budget), "d1"), backend


def _kinds(events):
  return [e["kind"] for e in events]


def test_a_clean_session_with_the_real_checker():
  session, _ = _session({"proposer": [_proposal()], "reviewer": [_review(4)], "planner": [_plan()],
                         "coder": [_code()], "observer": [_observe(4)]}, checker=check_design)
  result = session.run("mutation", [Parent(seed_design("gpt2"), "val bpb 2.1")], [], "prefix-mean")
  assert result.ok, result.reason
  design = result.proposal.design
  assert design.units["PreNormBlock"].children["mixer"] == "CausalMeanMixer" and "MHA" not in design.units
  assert design.lineage.operator == "mutation" and design.lineage.changed_units == ("CausalMeanMixer",)
  assert result.proposal.parents == ("gpt2",)
  check = next(e for e in result.events if e["kind"] == "check")
  assert check["report"]["ok"] and check["report"]["isolation"]  # ran in the sandbox


def test_review_fails_then_passes_and_the_feedback_reaches_the_proposer():
  session, backend = _session({"proposer": [_proposal(), _proposal()], "reviewer": [_review(2), _review(5)],
                               "planner": [_plan()], "coder": [_code()], "observer": [_observe(3)]})
  result = session.run("mutation", [Parent(seed_design("gpt2"))], ["gpt2-m1: wider MLP"], "x")
  assert result.ok
  reviews = [e for e in result.events if e["kind"] == "review"]
  assert [r["passed"] for r in reviews] == [False, True]
  second_proposal = [r for r in backend.requests if r.role == "proposer"][1]
  assert "rated your last proposal 2/5" in second_proposal.prompt and "gpt2-m1: wider MLP" in second_proposal.prompt


def test_the_proposer_may_search_the_knowledge_base_first():
  session, backend = _session({"proposer": [_proposal(queries=["selective state space"]), _proposal()],
                               "reviewer": [_review(4)], "planner": [_plan()], "coder": [_code()],
                               "observer": [_observe(4)]})
  assert session.run("mutation", [Parent(seed_design("gpt2"))], [], "x").ok
  assert "Mamba" in [r for r in backend.requests if r.role == "proposer"][1].prompt


def test_coder_fails_the_checker_then_fixes_it():
  broken = CUMULATIVE_MEAN.replace("return (mean", "BUG = 1\n    return (mean")
  session, backend = _session({"proposer": [_proposal()], "reviewer": [_review(4)], "planner": [_plan()],
                               "coder": [_code(broken), _code()], "observer": [_observe(4)]})
  result = session.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  assert result.ok
  checks = [e["report"]["ok"] for e in result.events if e["kind"] == "check"]
  assert checks == [False, True]
  assert "raises an error in the forward pass" in [r for r in backend.requests if r.role == "coder"][1].prompt


def test_observer_rejection_sends_the_coder_back():
  session, backend = _session({"proposer": [_proposal()], "reviewer": [_review(4)], "planner": [_plan()],
                               "coder": [_code(), _code()], "observer": [_observe(2), _observe(3)]})
  result = session.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  assert result.ok and [e["rating"] for e in result.events if e["kind"] == "observe"] == [2, 3]
  assert "rated your last version 2/5" in [r for r in backend.requests if r.role == "coder"][1].prompt


def test_a_unit_that_never_passes_is_rolled_back_and_the_session_fails():
  broken = _code(CUMULATIVE_MEAN + "\nBUG = 1\n")
  session, _ = _session({"proposer": [_proposal()], "reviewer": [_review(4)], "planner": [_plan()] * 2,
                         "coder": [broken] * 7})
  result = session.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  assert not result.ok and "failed 7 attempts; rolled back" in result.reason
  assert _kinds(result.events)[-2:] == ["rollback", "failed"]
  assert sum(e["kind"] == "check" for e in result.events) == 7


def test_a_proposal_that_never_passes_review_fails_the_session():
  session, _ = _session({"proposer": [_proposal()] * 5, "reviewer": [_review(3)] * 5})
  result = session.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  assert not result.ok and "did not pass review in 5 rounds" in result.reason


def test_an_unimplementable_proposal_is_sent_back_without_a_review():
  session, backend = _session({"proposer": [_proposal(selection=("Nope",)), _proposal()],
                               "reviewer": [_review(4)], "planner": [_plan()], "coder": [_code()],
                               "observer": [_observe(4)]})
  assert session.run("mutation", [Parent(seed_design("gpt2"))], [], "x").ok
  assert "cannot be implemented" in [r for r in backend.requests if r.role == "proposer"][1].prompt


def test_answers_that_never_validate_are_recorded_and_the_session_fails():
  session, _ = _session({"proposer": ["not json at all", "still not json", "{}"]})
  result = session.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  assert not result.ok and "proposer gave no valid answer" in result.reason
  assert result.events[-2]["kind"] == "call" and not result.events[-2]["ok"]


class _Metered:
  """A scripted backend that reports token counts (a quarter of the characters), so calls cost money."""

  def __init__(self, answers):
    self._inner = ScriptedBackend(answers)

  def complete(self, request, model):
    reply = self._inner.complete(request, model)
    return Reply(reply.text, model, len(request.prompt) // 4, len(reply.text) // 4)


def _session_estimate(backend, ledger, budget, estimate):
  client = LLMClient(backend, {r: "test-model" for r in ROLES}, {"test-model": Price(1.0, 2.0)}, ledger,
                     retries=0, sleep=lambda s: None, cap_usd=budget)
  settings = FlowSettings(budget_usd=budget, session_estimate_usd=estimate)
  return DesignSession(client, KnowledgeEngine(), fake_checker, settings, "d1")


def test_no_session_starts_that_the_remaining_budget_cannot_cover():
  ledger = Ledger()
  answers = {"proposer": [_proposal()] * 2, "reviewer": [_review(4)] * 2, "planner": [_plan()] * 2,
             "coder": [_code()] * 2, "observer": [_observe(4)] * 2}
  backend = _Metered(answers)
  first = _session_estimate(backend, ledger, budget=1.0, estimate=0.0)
  result = first.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  spent = ledger.total().cost_usd
  assert result.ok and result.cost_usd == pytest.approx(spent) and 0 < spent < 0.1
  # The remainder covers a session estimated at a little less than it, not one estimated at more.
  assert _session_estimate(backend, ledger, 1.0, 0.99 - spent).run(
      "mutation", [Parent(seed_design("gpt2"))], [], "y").ok
  spent = ledger.total().cost_usd
  blocked = _session_estimate(backend, ledger, 1.0, 1.01 - spent).run("mutation", [Parent(seed_design("gpt2"))], [], "z")
  assert not blocked.ok and blocked.reason.startswith("the run's LLM budget ($1.00")
  assert _kinds(blocked.events) == ["budget"] and ledger.total().cost_usd == spent


def test_the_cap_is_hard_a_running_session_makes_no_call_past_it():
  ledger = Ledger()
  answers = {"proposer": [_proposal()], "reviewer": [_review(4)], "planner": [_plan()],
             "coder": [_code()] * 7, "observer": [_observe(4)]}
  cap = 0.001  # dollars: the proposer's call already spends more
  session = _session_estimate(_Metered(answers), ledger, budget=cap, estimate=0.0)
  result = session.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  calls = [e for e in result.events if e["kind"] == "call"]
  assert not result.ok and calls[0]["ok"] and ledger.over_budget(cap)
  assert "the proposal did not pass review" not in result.reason
  assert all(c["error"].startswith("BudgetSpent") and c["cost_usd"] == 0 for c in calls[1:])
  assert ledger.total().cost_usd == pytest.approx(calls[0]["cost_usd"])


def test_crossover_grafts_and_scratch_writes_a_root():
  session, _ = _session({"proposer": [_proposal(selection=("GatedMLP", "RWKV6ChannelMix"), units=())],
                         "reviewer": [_review(4)]})
  result = session.run("crossover", [Parent(seed_design("gpt2")), Parent(seed_design("rwkv6"))], [], "x")
  assert result.ok and result.proposal.design.units["PreNormBlock"].children["mlp"] == "RWKV6ChannelMix"
  root = CUMULATIVE_MEAN.replace("CausalMeanMixer", "MeanBlock")
  session, _ = _session({"proposer": [_proposal(selection=("MeanBlock",), units=(("MeanBlock", "root"),))],
                         "reviewer": [_review(4)], "planner": [_plan("MeanBlock")],
                         "coder": [_code(root, "MeanBlock")], "observer": [_observe(4)]})
  result = session.run("scratch", [], [], "y")
  assert result.ok and result.proposal.design.root == "MeanBlock" and set(result.proposal.design.units) == {"MeanBlock"}


def test_a_recorded_session_replays_to_the_same_design(tmp_path):
  answers = {"proposer": [_proposal()], "reviewer": [_review(2), _review(4)], "planner": [_plan()],
             "coder": [_code()], "observer": [_observe(4)]}
  answers["proposer"].append(_proposal())
  recorder = RecordingBackend(ScriptedBackend(answers), tmp_path / "transcript.jsonl")
  first, _ = _session(None, backend=recorder)
  recorded = first.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  again, _ = _session(None, backend=ReplayBackend(tmp_path / "transcript.jsonl"))
  replayed = again.run("mutation", [Parent(seed_design("gpt2"))], [], "x")
  assert recorded.ok and replayed.ok
  assert replayed.proposal.design.content_hash() == recorded.proposal.design.content_hash()
  assert [e["kind"] for e in replayed.events] == [e["kind"] for e in recorded.events]


BLOCK = CUMULATIVE_MEAN + '''

class MeanBlock(GAUBase):
  """x + mixer(x)."""

  def __init__(self, embed_dim, block_loc, *, rngs):
    super().__init__(embed_dim, block_loc, rngs=rngs)
    self.mixer = CausalMeanMixer(embed_dim, block_loc, rngs=rngs)

  def _forward(self, X):
    Y, _ = self.mixer(X)
    return X + Y


ROOT = MeanBlock
'''


def test_direct_prompting_writes_the_whole_block_and_gets_the_checker_report_back():
  from genesys_jax.agents.direct_flow import DirectSession  # pylint: disable=import-outside-toplevel
  from genesys_jax.check.checker import check  # pylint: disable=import-outside-toplevel
  answers = {"proposer": [_proposal(selection=("MeanBlock",), units=(("MeanBlock", "root"),))],
             "reviewer": [_review(4)],
             "coder": [json.dumps({"code": "ROOT = 1\n"}), json.dumps({"code": BLOCK})]}
  backend = ScriptedBackend(answers)
  client = LLMClient(backend, {r: "m" for r in ROLES}, {}, Ledger(), retries=0, sleep=lambda s: None)
  session = DirectSession(client, KnowledgeEngine(), fake_checker, FlowSettings(), "d2", block_checker=check)
  result = session.run("scratch", [], [], "direct-mean")
  assert result.ok, result.reason
  design = result.proposal.design
  assert design.root == "MeanBlock" and "class CausalMeanMixer" in design.files[design.units["MeanBlock"].file]
  checks = [e["report"]["ok"] for e in result.events if e["kind"] == "check"]
  assert checks == [False, True]
  assert "rejected your last block" in [r for r in backend.requests if r.role == "coder"][1].prompt
