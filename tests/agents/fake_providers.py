"""Fake Gemini and OpenAI-compatible servers on loopback that refuse what the real providers refuse.

Each server answers POSTs from a script and logs every hit; before answering, it applies its provider's
schema rules (`provider_rules`) to the request and answers 400 as the provider would when they break.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from genesys_jax.agents.llm import factory
from genesys_jax.agents.llm.base import Backend
from genesys_jax.agents.llm.client import CallRecord, LLMClient
from genesys_jax.agents.llm.costs import PRICES, Ledger
from genesys_jax.agents.llm.gemini import GeminiBackend
from genesys_jax.agents.llm.openai_compat import OpenAICompatibleBackend
from agents.provider_rules import gemini_schema_problems, openai_strict_problems

KEY = "sk-TEST-SECRET-0123456789"
MODEL = "gemini-2.5-flash"

Refuse = Callable[[dict[str, Any]], list[str]]


def gemini_ok(text: str) -> dict[str, Any]:
  return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP"}],
          "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 200, "thoughtsTokenCount": 300,
                            "totalTokenCount": 1500}}


def openai_ok(text: str) -> dict[str, Any]:
  return {"id": "x", "object": "chat.completion", "model": MODEL,
          "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}}


def error_body(code: int, status: str, message: str = "") -> dict[str, Any]:
  return {"error": {"code": code, "message": message or f"fake {status}", "status": status}}


def gemini_refuses(vertex: bool) -> Refuse:
  def refuse(body: dict[str, Any]) -> list[str]:
    config = body.get("generationConfig", {})
    return gemini_schema_problems(config["responseSchema"], vertex) if "responseSchema" in config else []
  return refuse


def openai_refuses(body: dict[str, Any]) -> list[str]:
  return openai_strict_problems(body["response_format"]) if "response_format" in body else []


def plain_server_refuses(body: dict[str, Any]) -> list[str]:
  """A chat server without structured output (an old llama.cpp or a plain proxy)."""
  return ["response_format is not supported by this server"] if "response_format" in body else []


class FakeServer:
  """A loopback HTTP server answering POSTs from a script of (status, JSON body) and logging each hit."""

  def __init__(self, script: list[tuple[int, Any]], delay_s: float = 0.0, refuse: Refuse | None = None) -> None:
    self.script = list(script)
    self.hits: list[dict[str, Any]] = []
    self.refused: list[list[str]] = []
    server = self

    class Handler(http.server.BaseHTTPRequestHandler):
      def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        headers = {k.lower(): v for k, v in self.headers.items()}
        server.hits.append({"path": self.path, "headers": headers, "body": body})
        problems = refuse(body) if refuse else []
        if problems:
          server.refused.append(problems)
          status, payload = 400, error_body(400, "INVALID_ARGUMENT", "; ".join(problems))
        else:
          status, payload = server.script.pop(0) if len(server.script) > 1 else server.script[0]
        time.sleep(delay_s)
        out = json.dumps(payload).encode()
        try:
          self.send_response(status)
          self.send_header("Content-Type", "application/json")
          self.send_header("Content-Length", str(len(out)))
          self.end_headers()
          self.wfile.write(out)
        except (BrokenPipeError, ConnectionResetError):  # a client that timed out has gone (the timeout test)
          pass

      def log_message(self, *args: Any) -> None:
        pass

    self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    self.url = f"http://127.0.0.1:{self.httpd.server_port}"
    threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

  def close(self) -> None:
    self.httpd.shutdown()
    self.httpd.server_close()


@dataclasses.dataclass(frozen=True)
class Flavor:
  """One provider: its wire format, how to build its backend, a successful answer, where requests go,
  what its server refuses, and the structured-output mode the client uses with it."""

  name: str
  wire: str  # gemini | openai
  make: Callable[[str, float], Backend]
  ok: Callable[[str], dict[str, Any]]
  path: str
  refuse: Refuse
  structured: str = "schema"


FLAVORS = [
    Flavor("gemini", "gemini", lambda url, t: GeminiBackend(KEY, url, t), gemini_ok,
           f"/v1beta/models/{MODEL}:generateContent", gemini_refuses(vertex=False)),
    Flavor("gemini-vertex", "gemini", lambda url, t: GeminiBackend(KEY, url, t, vertexai=True), gemini_ok,
           f"/v1beta1/publishers/google/models/{MODEL}:generateContent", gemini_refuses(vertex=True)),
    Flavor("openai-strict", "openai", lambda url, t: OpenAICompatibleBackend(url + "/v1", KEY, t), openai_ok,
           "/v1/chat/completions", openai_refuses),
    Flavor("openai-text", "openai", lambda url, t: OpenAICompatibleBackend(url + "/v1", KEY, t), openai_ok,
           "/v1/chat/completions", plain_server_refuses, structured="text"),
]


def client_for(backend: Backend, ledger: Ledger | None = None, sleeps: list[float] | None = None,
               retries: int = 2, structured: str = "schema") -> LLMClient:
  """A client with every role on MODEL, no real sleeping (delays go to `sleeps`)."""
  return LLMClient(backend, {role: MODEL for role in factory.ROLES}, PRICES, ledger or Ledger(),
                   retries=retries, sleep=(sleeps if sleeps is not None else []).append, structured=structured)


def assert_no_key(backend: Backend, record: CallRecord) -> None:
  assert KEY not in repr(backend)
  assert KEY not in json.dumps(record.to_json())


def closed_port_url() -> str:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return f"http://127.0.0.1:{s.getsockname()[1]}"
