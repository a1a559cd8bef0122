"""The `agents` section of a config: which designer runs, the LLM backend and models per role, the
flow's limits and the run's LLM budget."""

from __future__ import annotations

import ml_collections

from genesys_jax.agents.llm.factory import ROLES

DESIGNERS = ("offline", "llm", "direct")
"""offline: the symbolic designer (no LLM); llm: the unit-by-unit flow; direct: the one-shot baseline."""


def agents_config() -> ml_collections.ConfigDict:
  """Offline by default: no API key, no network."""
  c = ml_collections.ConfigDict()
  c.designer = "offline"
  c.budget_usd = 0.0                   # LLM spend at which no new design session starts (0: no cap)
  c.llm = ml_collections.ConfigDict()
  c.llm.backend = "gemini"             # gemini | openai | replay (used when designer is llm or direct)
  c.llm.models = ml_collections.ConfigDict({role: "gemini-2.5-flash" for role in ROLES})
  c.llm.models.proposer = "gemini-2.5-pro"
  c.llm.models.reviewer = "gemini-2.5-pro"
  c.llm.base_url = ""                  # e.g. http://localhost:8080/v1 for a llama.cpp or vLLM server
  c.llm.structured = "schema"          # schema: provider-enforced structured output; text: JSON in the answer's text
  c.llm.api_key_env = "GEMINI_API_KEY"
  c.llm.vertexai = False               # gemini on Vertex AI (express mode, an API key) instead of the Developer API
  c.llm.replay_file = ""
  c.llm.replay_match = "prompt"        # prompt: answers only the recorded requests; role: each role's answers in order
  c.llm.record_file = ""
  c.llm.timeout_s = 120.0
  c.llm.retries = 4
  c.llm.prices = ()                    # ({"model": ..., "input_per_million": ..., "output_per_million": ...},)
  c.flow = ml_collections.ConfigDict()
  c.flow.max_search_rounds = 2
  c.flow.max_review_rounds = 5
  c.flow.review_pass = 4
  c.flow.max_unit_attempts = 7
  c.flow.observer_pass = 3
  c.flow.knowledge_hits = 4
  c.flow.online_search = False         # True: also search arXiv / Semantic Scholar when the network is there
  return c


def budget_cap(c: ml_collections.ConfigDict) -> float:
  """The run's LLM budget in dollars: `budget_usd`, or no cap when it is 0."""
  return float(c.budget_usd) or float("inf")


def validate(c: ml_collections.ConfigDict) -> None:
  """Raises ValueError with one sentence for the first bad value."""
  if c.designer not in DESIGNERS:
    raise ValueError(f"unknown designer {c.designer!r}; choose one of {', '.join(DESIGNERS)}")
  if c.budget_usd < 0:
    raise ValueError("agents.budget_usd must be 0 (no cap) or positive")
  for name in ("max_review_rounds", "max_unit_attempts"):
    if c.flow[name] < 1:
      raise ValueError(f"agents.flow.{name} must be at least 1")
  if not 1 <= c.flow.review_pass <= 5 or not 1 <= c.flow.observer_pass <= 5:
    raise ValueError("agents.flow.review_pass and observer_pass are ratings from 1 to 5")
