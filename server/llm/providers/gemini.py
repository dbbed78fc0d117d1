"""Gemini through Google's OpenAI-compatible endpoint (.../v1beta/openai/), so the OpenAI adapter.

Chosen over the `google-genai` SDK: no second HTTP/auth stack to ship, the same error types as OpenAI,
and the key travels in a header rather than in the URL (the native REST API's `?key=`), so it cannot
leak through access logs. What differs: Gemini answers a bad key with HTTP 400 API_KEY_INVALID.
"""

from __future__ import annotations

import functools

from server.llm.provider import FailureCause
from server.llm.providers.openai import OpenAICompatibleProvider


def _gemini_status(status: int, message: str) -> FailureCause | None:
    if status == 400 and ("API_KEY_INVALID" in message or "API key not valid" in message):
        return "bad_key"
    return None


gemini_provider = functools.partial(
    OpenAICompatibleProvider, name="gemini", label="Gemini (Google)", refine_status=_gemini_status
)
