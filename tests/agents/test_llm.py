"""The LLM layer offline: fake Gemini and OpenAI-compatible servers on loopback, retries, repair, replay, costs."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import ml_collections
import pydantic
import pytest

from genesys_jax.agents.llm import factory
from genesys_jax.agents.llm.base import Backend, PermanentError, Request, TransientError
from genesys_jax.agents.llm.client import CallRecord, LLMClient
from genesys_jax.agents.llm.costs import PRICES, Ledger, Price, Usage
from genesys_jax.agents.llm.gemini import GeminiBackend
from genesys_jax.agents.llm.openai_compat import OpenAICompatibleBackend
from genesys_jax.agents.llm.replay import RecordingBackend, ReplayBackend, ScriptedBackend, request_key
from genesys_jax.agents.llm.wire_schema import strict_schema

from agents.fake_providers import KEY, MODEL, FakeServer, Flavor, assert_no_key, client_for, closed_port_url, error_body


class Idea(pydantic.BaseModel):
  """A toy structured answer."""

  name: str
  score: float


IDEA = Request(role="proposer", system="You design models.", prompt="Propose one.", schema=Idea, temperature=0.2)


# Backends against fake servers (every provider flavour).


def test_structured_answer_round_trips(flavor: Flavor, serve: Callable[..., FakeServer]) -> None:
  server = serve([(200, flavor.ok('Here it is:\n```json\n{"name": "gated-mlp", "score": 7.5}\n```'))])
  backend = flavor.make(server.url, 10)
  record = client_for(backend, structured=flavor.structured).ask(IDEA, design_id="d1")
  assert record.ok and record.parsed == {"name": "gated-mlp", "score": 7.5} and record.attempts == 1
  assert (record.input_tokens, record.output_tokens) == (1000, 500)  # Gemini: answer 200 + thinking 300
  assert record.cost_usd == pytest.approx(PRICES[MODEL].cost(1000, 500))
  hit = server.hits[0]
  assert hit["path"] == flavor.path and not server.refused
  assert_no_key(backend, record)
  if flavor.wire == "gemini":
    assert hit["headers"]["x-goog-api-key"] == KEY
    assert hit["body"]["contents"] == [{"parts": [{"text": "Propose one."}], "role": "user"}]
    assert hit["body"]["systemInstruction"]["parts"] == [{"text": "You design models."}]
    config = hit["body"]["generationConfig"]
    assert config["temperature"] == 0.2 and config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["required"] == ["name", "score"]
    return
  assert hit["headers"]["authorization"] == f"Bearer {KEY}"
  assert hit["body"]["temperature"] == 0.2 and hit["body"]["model"] == MODEL
  system, user = hit["body"]["messages"]
  assert system == {"role": "system", "content": "You design models."}
  if flavor.structured == "schema":
    assert user == {"role": "user", "content": "Propose one."}
    assert hit["body"]["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "Idea", "strict": True, "schema": strict_schema(Idea)}}
  else:  # no response_format: the schema is in the prompt
    assert "response_format" not in hit["body"] and user["content"].startswith("Propose one.\n\nAnswer with")
    assert json.dumps(strict_schema(Idea), indent=1) in user["content"]


def test_rate_limit_is_retried(flavor: Flavor, serve: Callable[..., FakeServer]) -> None:
  server = serve([(429, error_body(429, "RESOURCE_EXHAUSTED")), (200, flavor.ok('{"name": "a", "score": 1}'))])
  sleeps: list[float] = []
  record = client_for(flavor.make(server.url, 10), sleeps=sleeps, structured=flavor.structured).ask(IDEA)
  assert record.ok and record.attempts == 2 and len(server.hits) == 2 and len(sleeps) == 1


def test_server_errors_give_a_failed_record_and_the_run_goes_on(
    flavor: Flavor, serve: Callable[..., FakeServer], caplog: pytest.LogCaptureFixture) -> None:
  caplog.set_level(logging.DEBUG)
  retries = 2
  server = serve([(500, error_body(500, "INTERNAL"))] * (retries + 1) + [(200, flavor.ok('{"name": "b", "score": 2}'))])
  ledger = Ledger()
  backend = flavor.make(server.url, 10)
  client = client_for(backend, ledger, retries=retries, structured=flavor.structured)
  failed = client.ask(IDEA, design_id="d1")
  assert not failed.ok and failed.attempts == retries + 1 and len(server.hits) == retries + 1
  assert "500" in failed.error and "TransientError" in failed.error
  assert_no_key(backend, failed)
  assert client.ask(IDEA, design_id="d1").ok
  assert ledger.total().calls == 2 and ledger.total().failures == 1
  assert "retry 1/2" in caplog.text and KEY not in caplog.text


def test_bad_request_is_permanent_and_not_retried(flavor: Flavor, serve: Callable[..., FakeServer]) -> None:
  server = serve([(400, error_body(400, "INVALID_ARGUMENT"))])
  backend = flavor.make(server.url, 10)
  with pytest.raises(PermanentError):
    backend.complete(IDEA, MODEL)
  record = client_for(backend, structured=flavor.structured).ask(IDEA)
  assert not record.ok and record.attempts == 1 and len(server.hits) == 2
  assert "PermanentError" in record.error and "400" in record.error
  assert_no_key(backend, record)


def test_refused_connection_is_transient_then_failed(flavor: Flavor) -> None:
  backend = flavor.make(closed_port_url(), 5)
  with pytest.raises(TransientError) as error:
    backend.complete(IDEA, MODEL)
  assert KEY not in str(error.value)
  sleeps: list[float] = []
  record = client_for(backend, sleeps=sleeps, retries=3).ask(IDEA)
  assert not record.ok and record.attempts == 4 and len(sleeps) == 3 and "TransientError" in record.error
  assert_no_key(backend, record)


def test_timeout_is_transient(flavor: Flavor, serve: Callable[..., FakeServer]) -> None:
  server = serve([(200, flavor.ok("{}"))], delay_s=1.0)
  with pytest.raises(TransientError):
    flavor.make(server.url, 0.2).complete(IDEA, MODEL)


def test_free_text_request_sends_no_schema(flavor: Flavor, serve: Callable[..., FakeServer]) -> None:
  server = serve([(200, flavor.ok("plain words"))])
  record = client_for(flavor.make(server.url, 10), structured=flavor.structured).ask(
      Request(role="observer", system="", prompt="Say."))
  assert record.ok and record.text == "plain words" and record.parsed is None
  body = json.dumps(server.hits[0]["body"])
  assert "responseSchema" not in body and "response_format" not in body and "system" not in body


# The client: backoff and repair.


def test_backoff_grows_and_is_capped() -> None:
  class Flaky:
    def complete(self, request: Request, model: str) -> Any:
      raise TransientError("busy")

  sleeps: list[float] = []
  client = LLMClient(Flaky(), {"proposer": MODEL}, PRICES, Ledger(), retries=6, backoff_s=1.0, max_backoff_s=8,
                     sleep=sleeps.append)
  record = client.ask(IDEA)
  assert not record.ok and record.attempts == 7 and "gave up after 7 tries" in record.error
  for retry, delay in enumerate(sleeps):
    assert min(8.0, 2.0 ** retry) / 2 <= delay <= min(8.0, 2.0 ** retry)


def test_malformed_json_is_repaired() -> None:
  backend = ScriptedBackend({"proposer": ['{"name": "x", "score": }', 'Sure: {"name": "x", "score": 3} done']})
  record = client_for(backend).ask(IDEA)
  assert record.ok and record.attempts == 2 and record.parsed == {"name": "x", "score": 3.0}
  assert backend.requests[1].prompt.startswith("Propose one.\n\nYour previous answer could not be used: ")
  assert "Invalid JSON" in backend.requests[1].prompt


def test_never_valid_gives_a_failed_record() -> None:
  backend = ScriptedBackend({"proposer": ['{"name": "x"}'] * 3})
  ledger = Ledger()
  record = client_for(backend, ledger).ask(IDEA, design_id="d9")  # one re-ask, then a failure
  assert not record.ok and record.attempts == 2 and record.parsed is None
  assert "score: Field required" in record.error and record.text == '{"name": "x"}'
  assert ledger.by_design()["d9"].failures == 1


def test_permanent_error_is_a_failed_record() -> None:
  record = client_for(ScriptedBackend({})).ask(IDEA)
  assert not record.ok and record.attempts == 1 and "no (more) answers for the proposer" in record.error


# Replay, recording and scripts.


def test_replay_serves_keyed_answers_in_order(tmp_path: Any) -> None:
  other = Request(role="reviewer", system="You review.", prompt="Review it.")
  lines = [{"role": "proposer", "key": request_key(IDEA), "text": t, "model": MODEL, "input_tokens": 1,
            "output_tokens": 2} for t in ("bad", '{"name": "n", "score": 1}')]
  path = tmp_path / "calls.jsonl"
  path.write_text("".join(json.dumps(line) + "\n" for line in lines))
  replay = ReplayBackend(path)
  assert [replay.complete(IDEA, MODEL).text for _ in range(2)] == ["bad", '{"name": "n", "score": 1}']
  with pytest.raises(PermanentError, match="this proposer call"):
    replay.complete(IDEA, MODEL)
  with pytest.raises(PermanentError, match="this reviewer call"):
    replay.complete(other, MODEL)


def test_replay_by_role_serves_each_roles_answers_in_order_whatever_the_prompt(tmp_path: Any) -> None:
  lines = [{"role": "proposer", "key": request_key(IDEA), "text": t, "model": MODEL, "input_tokens": 1,
            "output_tokens": 2} for t in ("first", "second")]
  path = tmp_path / "calls.jsonl"
  path.write_text("".join(json.dumps(line) + "\n" for line in lines))
  replay = ReplayBackend(path, match="role")
  changed = Request(role="proposer", system="", prompt="Another prompt: the report's timings differ.")
  assert [replay.complete(changed, MODEL).text, replay.complete(IDEA, MODEL).text] == ["first", "second"]
  with pytest.raises(PermanentError, match="no \\(more\\) recorded answers"):
    replay.complete(IDEA, MODEL)
  with pytest.raises(ValueError, match="unknown replay match"):
    ReplayBackend(path, match="hash")


def test_request_key_ignores_temperature_but_not_schema() -> None:
  assert request_key(IDEA) == request_key(Request("proposer", IDEA.system, IDEA.prompt, Idea, temperature=1.0))
  assert request_key(IDEA) != request_key(Request("proposer", IDEA.system, IDEA.prompt))
  assert request_key(IDEA) != request_key(Request("reviewer", IDEA.system, IDEA.prompt, Idea))


def test_recording_then_replay_gives_the_same_records(tmp_path: Any) -> None:
  path = tmp_path / "sub" / "calls.jsonl"
  script = ScriptedBackend({"proposer": ['{"name": "p", "score": 0.5}'], "observer": ["noted"]})
  requests = [IDEA, Request(role="observer", system="", prompt="Watch.")]
  recorded = [client_for(RecordingBackend(script, path)).ask(r) for r in requests]
  replayed = [client_for(ReplayBackend(path)).ask(r) for r in requests]
  assert [(r.text, r.parsed, r.ok) for r in recorded] == [(r.text, r.parsed, r.ok) for r in replayed]
  assert [json.loads(line)["role"] for line in path.read_text().splitlines()] == ["proposer", "observer"]


# Costs and the ledger.


def test_ledger_sums_per_role_design_and_run() -> None:
  ledger = Ledger()
  ledger.add("proposer", "d1", Usage(1, 0, 100, 10, 0.5))
  ledger.add("proposer", "d2", Usage(1, 1, 200, 20, 0.25))
  ledger.add("reviewer", "d1", Usage(1, 0, 300, 30, 1.0))
  ledger.add("observer", None, Usage(1, 0, 1, 1, 0.0))
  assert ledger.total() == Usage(4, 1, 601, 61, 1.75)
  assert ledger.by_role()["proposer"] == Usage(2, 1, 300, 30, 0.75)
  assert ledger.by_design() == {"d1": Usage(2, 0, 400, 40, 1.5), "d2": Usage(1, 1, 200, 20, 0.25)}
  assert ledger.over_budget(1.5) and not ledger.over_budget(1.75)



def test_a_ledger_rebuilt_from_call_records_charges_the_same() -> None:
  client = client_for(ScriptedBackend({"proposer": ['{"name": "a", "score": 1}', "{}", "{}"]}))
  records = [client.ask(IDEA, "d1") for _ in range(2)]  # the second fails
  calls = [dict(r.to_json(), input_tokens=100 * k, output_tokens=10, cost_usd=0.5 * k) for k, r in enumerate(records, 1)]
  ledger = Ledger.of_calls(calls)
  assert ledger.total() == Usage(2, 1, 300, 20, 1.5) and ledger.by_design()["d1"] == ledger.total()


def test_ledger_is_thread_safe() -> None:
  ledger = Ledger()

  def charge() -> None:
    for _ in range(500):
      ledger.add("coder", "d", Usage(1, 0, 1, 1, 0.0))

  threads = [threading.Thread(target=charge) for _ in range(8)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert ledger.total().calls == 4000 and ledger.by_design()["d"].input_tokens == 4000


def test_default_prices_cover_the_gemini_models() -> None:
  assert {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash"} <= set(PRICES)
  assert Price(1.0, 2.0).cost(1_000_000, 500_000) == pytest.approx(2.0)


# The factory.


def llm_config(**overrides: Any) -> ml_collections.ConfigDict:
  config = {"backend": "gemini", "models": {role: MODEL for role in factory.ROLES}, "base_url": "",
            "api_key_env": "TEST_LLM_KEY", "replay_file": "", "timeout_s": 60, "retries": 4, "prices": {}}
  config.update(overrides)
  return ml_collections.ConfigDict(config)


def test_factory_rejects_unknown_backend_and_role() -> None:
  with pytest.raises(ValueError, match="choose one of gemini, openai, replay, offline"):
    factory.make_client(llm_config(backend="claude"), Ledger())
  models = {role: MODEL for role in factory.ROLES} | {"critic": MODEL}
  with pytest.raises(ValueError, match="unknown role.*critic.*proposer, reviewer, planner, coder, observer"):
    factory.make_client(llm_config(backend="openai", base_url="http://127.0.0.1:1/v1", models=models), Ledger())


def test_factory_names_the_missing_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
  monkeypatch.delenv("TEST_LLM_KEY", raising=False)
  with pytest.raises(ValueError, match="environment variable TEST_LLM_KEY"):
    factory.make_client(llm_config(models={"nobody": "x"}), Ledger())  # the key is checked first


def test_factory_builds_each_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
  monkeypatch.setenv("TEST_LLM_KEY", KEY)
  prices = [{"model": MODEL, "input_per_million": 9.0, "output_per_million": 9.0}]
  client = factory.make_client(llm_config(prices=prices, retries=1), Ledger())
  assert isinstance(client.backend, GeminiBackend) and client.retries == 1
  assert client.prices[MODEL] == Price(9.0, 9.0) and client.prices["gemini-2.5-pro"] == PRICES["gemini-2.5-pro"]
  assert KEY not in repr(client.backend)
  with pytest.raises(ValueError, match="no price for my-model"):
    factory.make_client(llm_config(models={role: "my-model" for role in factory.ROLES}), Ledger())
  openai = factory.make_client(llm_config(backend="openai", base_url="http://127.0.0.1:1/v1"), Ledger())
  assert isinstance(openai.backend, OpenAICompatibleBackend)
  with pytest.raises(ValueError, match="replay_file"):
    factory.make_client(llm_config(backend="replay"), Ledger())
  (tmp_path / "calls.jsonl").write_text("")
  replay = factory.make_client(llm_config(backend="replay", replay_file=str(tmp_path / "calls.jsonl")), Ledger())
  assert isinstance(replay.backend, ReplayBackend)
  assert factory.make_client(llm_config(backend="offline"), Ledger()) is None
  plain = llm_config(prices=[]).to_dict() | {"prices": {"gemini-2.5-pro": {"input_per_million": 0.0,
                                                                         "output_per_million": 0.0}}}
  assert factory.make_client(plain, Ledger()).prices["gemini-2.5-pro"] == Price(0.0, 0.0)
