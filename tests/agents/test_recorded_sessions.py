"""Real model sessions, replayed: transcripts recorded by `benchmarks/llm_acceptance.py` against a model
(see recorded/README.md for what produced them) run through today's flow and the real sandboxed checker,
and must end with the same accepted design."""

import json
import pathlib

import pytest

from genesys_jax.agents.direct_flow import DirectSession
from genesys_jax.agents.flow import DesignSession, FlowSettings, Parent
from genesys_jax.agents.knowledge.search import KnowledgeEngine
from genesys_jax.agents.llm.client import LLMClient
from genesys_jax.agents.llm.costs import PRICES, Ledger
from genesys_jax.agents.llm.factory import ROLES
from genesys_jax.agents.llm.replay import ReplayBackend
from genesys_jax.check.checker import check_design
from genesys_jax.units.seeds import seed_design

RECORDED = pathlib.Path(__file__).with_name("recorded")
SESSIONS = json.loads((RECORDED / "sessions.json").read_text())
FLOWS = {"unit-by-unit": DesignSession, "direct": DirectSession}


@pytest.mark.parametrize("entry", SESSIONS, ids=[s["name"] for s in SESSIONS])
def test_a_recorded_real_session_is_accepted_again(entry):
  backend = ReplayBackend(RECORDED / entry["transcript"], match="role")
  client = LLMClient(backend, {role: entry["model"] for role in ROLES}, PRICES, Ledger(), retries=0,
                     sleep=lambda s: None)
  session = FLOWS[entry["flow"]](client, KnowledgeEngine(), check_design, FlowSettings(), entry["name"])
  result = session.run(entry["operator"], [Parent(seed_design(p)) for p in entry["parents"]], [], entry["name"])
  first_check = next((e["report"] for e in result.events if e["kind"] == "check"), None)
  assert result.ok, f"{result.reason}; the recorded answer's first check: {first_check}"
  assert result.proposal.design.content_hash() == entry["content_hash"]
  calls = [e["role"] for e in result.events if e["kind"] == "call"]
  assert len(calls) == entry["calls"]  # every recorded answer was asked for, no more
