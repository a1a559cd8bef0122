"""Builds the LLM client a config asks for, checking the config before any work."""

from __future__ import annotations

import os
import pathlib
from typing import Any

from genesys_jax.agents.llm.base import Backend
from genesys_jax.agents.llm.client import STRUCTURED_MODES, LLMClient
from genesys_jax.agents.llm.costs import PRICES, Ledger, Price, prices_from
from genesys_jax.agents.llm.gemini import GeminiBackend
from genesys_jax.agents.llm.openai_compat import OpenAICompatibleBackend
from genesys_jax.agents.llm.replay import RecordingBackend, ReplayBackend

ROLES = ("proposer", "reviewer", "planner", "coder", "observer")
BACKENDS = ("gemini", "openai", "replay", "offline")


def _models(llm_config: Any) -> dict[str, str]:
  """The role -> model table: every role, no other, each with a model name."""
  models = {str(role): str(model) for role, model in dict(llm_config.get("models") or {}).items()}
  unknown = sorted(set(models) - set(ROLES))
  if unknown:
    raise ValueError(f"unknown role(s) {', '.join(unknown)} in llm.models; the roles are {', '.join(ROLES)}")
  missing = [role for role in ROLES if not models.get(role)]
  if missing:
    raise ValueError(f"llm.models gives no model for {', '.join(missing)}; every role needs one")
  return models


def _prices(llm_config: Any) -> dict[str, Price]:
  """The default prices overridden by `llm.prices`: a list of `{"model", "input_per_million",
  "output_per_million"}` entries (a ConfigDict takes no dotted keys such as "gemini-2.5-pro"), or a mapping
  from model to price where the config allows it."""
  table = llm_config.get("prices") or []
  if hasattr(table, "items"):
    overrides = {str(model): dict(entry) for model, entry in table.items()}
  else:
    overrides = {str(entry["model"]): dict(entry) for entry in table}
  return {**PRICES, **prices_from(overrides)}


def _backend(llm_config: Any, name: str) -> Backend:
  """The backend `name` with its settings from the config."""
  timeout_s = float(llm_config.get("timeout_s", 60))
  base_url = str(llm_config.get("base_url") or "")
  key_env = str(llm_config.get("api_key_env") or "")
  if name == "gemini":
    return GeminiBackend(os.environ[key_env], base_url or None, timeout_s, bool(llm_config.get("vertexai", False)))
  if name == "openai":
    if not base_url:
      raise ValueError("the openai backend needs llm.base_url, e.g. http://localhost:8000/v1")
    return OpenAICompatibleBackend(base_url, os.environ.get(key_env) if key_env else None, timeout_s)
  replay_file = pathlib.Path(str(llm_config.get("replay_file") or ""))
  if not replay_file.name or not replay_file.is_file():
    raise ValueError(f"the replay backend needs llm.replay_file to name an existing transcript, "
                     f"not {str(llm_config.get('replay_file') or '')!r}")
  return ReplayBackend(replay_file, str(llm_config.get("replay_match") or "prompt"))


def make_client(llm_config: Any, ledger: Ledger, cap_usd: float = float("inf")) -> LLMClient | None:
  """The client for an `llm` ConfigDict (or dict); None for the offline backend, which asks no model.

  Prices are the default list prices overridden model by model by `llm.prices` (Gemini models need
  one, and so does every model when `cap_usd` is finite: a budget needs prices); an optional
  `llm.record_file` wraps the backend in a RecordingBackend writing that transcript. `ledger` should
  hold what the run spent before (see `Ledger.add`), so that `cap_usd` holds across restarts."""
  name = str(llm_config.get("backend"))
  if name not in BACKENDS:
    raise ValueError(f"unknown LLM backend {name!r}; choose one of {', '.join(BACKENDS)}")
  if name == "offline":
    return None
  structured = str(llm_config.get("structured") or "schema")
  if structured not in STRUCTURED_MODES:
    raise ValueError(f"unknown llm.structured {structured!r}; choose one of {', '.join(STRUCTURED_MODES)}")
  key_env = str(llm_config.get("api_key_env") or "")
  if name == "gemini" and not os.environ.get(key_env):
    raise ValueError(f"the gemini backend needs an API key in the environment variable {key_env or '(unnamed)'}, "
                     "which is not set; set it or name another one in llm.api_key_env")
  models = _models(llm_config)
  prices = _prices(llm_config)
  if name == "gemini" or cap_usd < float("inf"):
    unpriced = sorted({model for model in models.values() if model not in prices})
    if unpriced:
      raise ValueError(f"no price for {', '.join(unpriced)}; add it to llm.prices so the budget can be kept")
  backend = _backend(llm_config, name)
  record_file = str(llm_config.get("record_file") or "")
  if record_file:
    backend = RecordingBackend(backend, record_file)
  return LLMClient(backend, models, prices, ledger, retries=int(llm_config.get("retries", 4)),
                   structured=structured, cap_usd=cap_usd)
