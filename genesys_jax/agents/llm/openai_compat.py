"""A backend for OpenAI-compatible chat servers: OpenAI itself, vLLM, llama.cpp's server, Ollama."""

from __future__ import annotations

from typing import Any

# httpx2 is google-genai's own HTTP client (a drop-in httpx fork), so this backend needs no extra package.
import httpx2

from genesys_jax.agents.llm.base import PermanentError, Reply, Request, TransientError
from genesys_jax.agents.llm.wire_schema import strict_schema


def _is_transient(code: int) -> bool:
  """Whether an HTTP status is worth retrying: request timeout, rate limit or server error."""
  return code in (408, 429) or code >= 500


class OpenAICompatibleBackend:
  """POSTs `{base_url}/chat/completions`; structured requests ask for strict `json_schema` output."""

  def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 60) -> None:
    if not base_url.startswith(("http://", "https://")):
      raise ValueError(f"the server's base URL must start with http:// or https://, not {base_url!r}")
    self._secret = api_key
    self.base_url = base_url.rstrip("/")
    self.timeout_s = timeout_s
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    self._http = httpx2.Client(timeout=timeout_s, headers=headers)  # httpx2 never retries by itself

  def __repr__(self) -> str:
    return f"OpenAICompatibleBackend(base_url={self.base_url!r}, timeout_s={self.timeout_s})"

  def _scrub(self, message: str) -> str:
    return message.replace(self._secret, "<api key>") if self._secret else message

  def _body(self, request: Request, model: str) -> dict[str, Any]:
    messages = [{"role": "system", "content": request.system}] if request.system else []
    body: dict[str, Any] = {"model": model, "temperature": request.temperature,
                            "messages": messages + [{"role": "user", "content": request.prompt}]}
    if request.schema:
      body["response_format"] = {"type": "json_schema", "json_schema": {
          "name": request.schema.__name__, "strict": True, "schema": strict_schema(request.schema)}}
    return body

  def complete(self, request: Request, model: str) -> Reply:
    """One chat completion; raises TransientError or PermanentError."""
    where = f"{self.base_url} {model}"
    try:
      response = self._http.post(f"{self.base_url}/chat/completions", json=self._body(request, model))
    except httpx2.UnsupportedProtocol as e:
      raise PermanentError(self._scrub(f"{where}: {e}")) from None
    except httpx2.TransportError as e:
      raise TransientError(self._scrub(f"{where}: {type(e).__name__}: {e}")) from None
    if response.status_code >= 400:
      message = self._scrub(f"{where}: HTTP {response.status_code}: {response.text[:500]}")
      raise (TransientError if _is_transient(response.status_code) else PermanentError)(message)
    try:
      data = response.json()
      text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as e:
      raise TransientError(self._scrub(f"{where}: malformed answer ({type(e).__name__}: {e})")) from None
    if not text:
      raise TransientError(f"{where} answered no text")
    usage = data.get("usage") or {}
    return Reply(text=text, model=data.get("model") or model,
                 input_tokens=usage.get("prompt_tokens") or 0, output_tokens=usage.get("completion_tokens") or 0)
