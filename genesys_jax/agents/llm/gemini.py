"""The Gemini backend (Developer API, or Vertex AI in express mode with an API key), through google-genai
with its own retries turned off."""

from __future__ import annotations

# google-genai 3.x sends requests with httpx2 (not httpx), so transport failures arrive as httpx2 errors.
import httpx2
from google import genai
from google.genai import errors, types

from genesys_jax.agents.llm.base import PermanentError, Reply, Request, TransientError

# Developer API: v1beta, not the SDK's v1 default (it serves every model, preview and -latest aliases
# included). Vertex AI: the SDK's own default.
_API_VERSION = "v1beta"


def _is_transient(code: int) -> bool:
  """Whether an HTTP status is worth retrying: request timeout, rate limit or server error."""
  return code in (408, 429) or code >= 500


class GeminiBackend:
  """Calls `models.generate_content`; the API key stays inside the SDK client and out of every message."""

  def __init__(self, api_key: str, base_url: str | None = None, timeout_s: float = 60, vertexai: bool = False) -> None:
    if not api_key:
      raise ValueError("GeminiBackend needs a non-empty API key")
    if base_url and not base_url.startswith(("http://", "https://")):
      raise ValueError(f"the Gemini base URL must start with http:// or https://, not {base_url!r}")
    self._secret = api_key
    self.base_url = base_url or None
    self.timeout_s = timeout_s
    self.vertexai = vertexai
    self._client = genai.Client(
        vertexai=vertexai, api_key=api_key,
        http_options=types.HttpOptions(
            base_url=self.base_url, api_version=None if vertexai else _API_VERSION,
            timeout=max(1, round(timeout_s * 1000)),
            retry_options=types.HttpRetryOptions(attempts=1)))  # one attempt: LLMClient owns retries

  def __repr__(self) -> str:
    return f"GeminiBackend(base_url={self.base_url!r}, timeout_s={self.timeout_s}, vertexai={self.vertexai})"

  def _scrub(self, message: str) -> str:
    return message.replace(self._secret, "<api key>")

  def complete(self, request: Request, model: str) -> Reply:
    """One generateContent call; raises TransientError or PermanentError (chained to nothing: the SDK's
    exceptions hold the request, and so the key)."""
    config = types.GenerateContentConfig(
        system_instruction=request.system or None, temperature=request.temperature,
        response_mime_type="application/json" if request.schema else None,
        response_schema=request.schema)
    try:
      response = self._client.models.generate_content(model=model, contents=request.prompt, config=config)
    except (ValueError, TypeError) as e:  # the SDK refused the request before sending it (e.g. its schema)
      raise PermanentError(self._scrub(f"Gemini {model}: the SDK refused the request: {e}")) from None
    except errors.APIError as e:
      message = self._scrub(f"Gemini {model}: HTTP {e.code} {e.status or ''}: {e.message or e.details}")
      raise (TransientError if _is_transient(e.code) else PermanentError)(message) from None
    except httpx2.UnsupportedProtocol as e:
      raise PermanentError(self._scrub(f"Gemini {model}: {e}")) from None
    except httpx2.TransportError as e:
      raise TransientError(self._scrub(f"Gemini {model}: {type(e).__name__}: {e}")) from None
    if not response.text:
      raise TransientError(f"Gemini {model} answered no text ({_why_empty(response)})")
    usage = response.usage_metadata or types.GenerateContentResponseUsageMetadata()
    return Reply(text=response.text, model=response.model_version or model,
                 input_tokens=usage.prompt_token_count or 0,
                 output_tokens=(usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0))


def _why_empty(response: types.GenerateContentResponse) -> str:
  """The block or finish reason of an answer without text, as far as the response says."""
  if response.prompt_feedback and response.prompt_feedback.block_reason:
    return f"prompt blocked: {response.prompt_feedback.block_reason}"
  if response.candidates and response.candidates[0].finish_reason:
    return f"finish reason {response.candidates[0].finish_reason}"
  return "no candidates"
