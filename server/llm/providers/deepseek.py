"""DeepSeek: an OpenAI-compatible API (base URL https://api.deepseek.com), so the OpenAI adapter."""

from __future__ import annotations

import functools

from server.llm.providers.openai import OpenAICompatibleProvider

deepseek_provider = functools.partial(OpenAICompatibleProvider, name="deepseek", label="DeepSeek")
