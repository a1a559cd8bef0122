"""The LLM layer offline: fake Gemini and OpenAI-compatible servers on loopback, retries, repair, replay, costs."""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
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

KEY = "sk-TEST-SECRET-0123456789"
MODEL = "gemini-2.5-flash"


class Idea(pydantic.BaseModel):
  """A toy structured answer."""

  name: str
  score: float


IDEA = Request(role="proposer", system="You design models.", prompt="Propose one.", schema=Idea, temperature=0.2)


class FakeServer:
  """A loopback HTTP server answering POSTs from a script of (status, JSON body, delay) and logging each hit."""

  def __init__(self, script: list[tuple[int, Any]], delay_s: float = 0.0) -> None:
    self.script = list(script)
    self.hits: list[dict[str, Any]] = []
    server = self

    class Handler(http.server.BaseHTTPRequestHandler):
      def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        headers = {k.lower(): v for k, v in self.headers.items()}
        server.hits.append({"path": self.path, "headers": headers, "body": body})
        status, payload = server.script.pop(0) if len(server.script) > 1 else server.script[0]
        time.sleep(delay_s)
        out = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

      def log_message(self, *args: Any) -> None:
        pass

    self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    self.url = f"http://127.0.0.1:{self.httpd.server_port}"
    threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

  def close(self) -> None:
    self.httpd.shutdown()
    self.httpd.server_close()


def gemini_ok(text: str) -> dict[str, Any]:
  return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP"}],
          "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 200, "thoughtsTokenCount": 300,
                            "totalTokenCount": 1500}}


def openai_ok(text: str) -> dict[str, Any]:
  return {"id": "x", "object": "chat.completion", "model": MODEL,
          "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}}


def error_body(code: int, status: str) -> dict[str, Any]:
  return {"error": {"code": code, "message": f"fake {status}", "status": status}}


class Flavor:
  """One wire format: how to build its backend, a successful answer, and where requests go."""

  def __init__(self, name: str, make: Callable[[str, float], Backend], ok: Callable[[str], dict[str, Any]],
               path: str) -> None:
    self.name, self.make, self.ok, self.path = name, make, ok, path


FLAVORS = [
    Flavor("gemini", lambda url, t: GeminiBackend(KEY, url, t), gemini_ok,
           f"/v1beta/models/{MODEL}:generateContent"),
    Flavor("openai", lambda url, t: OpenAICompatibleBackend(url + "/v1", KEY, t), openai_ok,
           "/v1/chat/completions"),
]


@pytest.fixture(params=FLAVORS, ids=lambda f: f.name)
def flavor(request: pytest.FixtureRequest) -> Flavor:
  return request.param


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeServer]]:
  servers: list[FakeServer] = []

  def start(script: list[tuple[int, Any]], delay_s: float = 0.0) -> FakeServer:
    servers.append(FakeServer(script, delay_s))
    return servers[-1]

  yield start
  for server in servers:
    server.close()


def client_for(backend: Backend, ledger: Ledger | None = None, sleeps: list[float] | None = None,
               retries: int = 2) -> LLMClient:
  """A client with every role on MODEL, no real sleeping (delays go to `sleeps`)."""
  return LLMClient(backend, {role: MODEL for role in factory.ROLES}, PRICES, ledger or Ledger(),
                   retries=retries, sleep=(sleeps if sleeps is not None else []).append)


def assert_no_key(backend: Backend, record: CallRecord) -> None:
  assert KEY not in repr(backend)
  assert KEY not in json.dumps(record.to_json())


def closed_port_url() -> str:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return f"http://127.0.0.1:{s.getsockname()[1]}"


# Backends against fake servers (both wire formats).


def test_structured_answer_round_trips(flavor: Flavor, serve: Callable[..., FakeServer]) -> None:
  server = serve([(200, flavor.ok('```json\n{"name": "gated-mlp", "score": 7.5}\n```'))])
  backend = flavor.make(server.url, 10)
  record = client_for(backend).ask(IDEA, design_id="d1")
  assert record.ok and record.parsed == {"name": "gated-mlp", "score": 7.5} and record.attempts == 1
  assert (record.input_tokens, record.output_tokens) == (1000, 500)  # Gemini: answer 200 + thinking 300
  assert record.cost_usd == pytest.approx(PRICES[MODEL].cost(1000, 500))
  hit = server.hits[0]
  assert hit["path"] == flavor.path
  assert_no_key(backend, record)
  if flavor.name == "gemini":
    assert hit["headers"]["x-goog-api-key"] == KEY
    assert hit["body"]["contents"] == [{"parts": [{"text": "Propose one."}], "role": "user"}]
    assert hit["body"]["systemInstruction"]["parts"] == [{"text": "You design models."}]
    config = hit["body"]["generationConfig"]
    assert config["temperature"] == 0.2 and config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["required"] == ["name", "score"]
  else:
    assert hit["headers"]["authorization"] == f"Bearer {KEY}"
    assert hit["body"]["messages"] == [{"role": "system", "content": "You design models."},
                                       {"role": "user", "content": "Propose one."}]
    assert hit["body"]["temperature"] == 0.2 and hit["body"]["model"] == MODEL
    assert hit["body"]["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "Idea", "schema": Idea.model_json_schema()}}


def test_rate_limit_is_retried(flavor: Flavor, serve: Callable[..., FakeServer]) -> None:
  server = serve([(429, error_body(429, "RESOURCE_EXHAUSTED")), (200, flavor.ok('{"name": "a", "score": 1}'))])
  sleeps: list[float] = []
  record = client_for(flavor.make(server.url, 10), sleeps=sleeps).ask(IDEA)
  assert record.ok and record.attempts == 2 and len(server.hits) == 2 and len(sleeps) == 1


def test_server_errors_give_a_failed_record_and_the_run_goes_on(
    flavor: Flavor, serve: Callable[..., FakeServer], caplog: pytest.LogCaptureFixture) -> None:
  caplog.set_level(logging.DEBUG)
  retries = 2
  server = serve([(500, error_body(500, "INTERNAL"))] * (retries + 1) + [(200, flavor.ok('{"name": "b", "score": 2}'))])
  ledger = Ledger()
  backend = flavor.make(server.url, 10)
  client = client_for(backend, ledger, retries=retries)
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
  record = client_for(backend).ask(IDEA)
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
  record = client_for(flavor.make(server.url, 10)).ask(Request(role="observer", system="", prompt="Say."))
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
  record = client_for(backend, ledger).ask(IDEA, design_id="d9")
  assert not record.ok and record.attempts == 3 and record.parsed is None
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
  restored = Ledger.from_json(json.loads(json.dumps(ledger.to_json())))
  assert restored.to_json() == ledger.to_json()


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
