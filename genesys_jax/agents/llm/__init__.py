"""One small LLM interface and its backends (Gemini, OpenAI-compatible servers, replay)."""
