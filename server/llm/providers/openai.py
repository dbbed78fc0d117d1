"""OpenAI's chat completions through the official `openai` SDK (POST {base_url}/chat/completions).

The same adapter serves every OpenAI-compatible service (DeepSeek, Gemini's compatibility endpoint):
those are `functools.partial`s of `OpenAICompatibleProvider` in their own modules.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import openai
from openai.types.chat import ChatCompletionMessageParam

from server.llm.config import ProviderConfig
from server.llm.credentials import ENV_VARS
from server.llm.provider import (
    ChatMessage,
    FailureCause,
    ProviderError,
    cause_for_status,
    no_key_sentence,
    redact,
    status_sentence,
    timeout_sentence,
)
from server.llm.types import ProviderName

# Some services signal a bad key with another status (Gemini: 400 API_KEY_INVALID); they pass a refinement.
StatusRefinement = Callable[[int, str], FailureCause | None]


class OpenAICompatibleProvider:
    needs_key = True

    def __init__(
        self,
        config: ProviderConfig,
        api_key: str | None,
        max_retries: int,
        *,
        name: ProviderName,
        label: str,
        refine_status: StatusRefinement | None = None,
    ) -> None:
        self.name: ProviderName = name
        self.label = label
        self.config = config
        self._api_key = api_key
        self._max_retries = max_retries
        self._refine_status = refine_status

    def __repr__(self) -> str:
        return f"OpenAICompatibleProvider(name={self.name!r}, base_url={self.config.base_url!r})"

    def _client(self) -> openai.AsyncOpenAI:
        if not self._api_key:
            raise ProviderError(self.name, "no_key", no_key_sentence(self.label, ENV_VARS[self.name]))
        return openai.AsyncOpenAI(
            api_key=self._api_key, base_url=self.config.base_url, max_retries=self._max_retries
        )

    async def complete(
        self, system: str, messages: list[ChatMessage], model: str, *, timeout_s: float
    ) -> str:
        client = self._client()
        chat: list[ChatCompletionMessageParam] = [{"role": "system", "content": system}]
        for message in messages:
            if message.role == "user":
                chat.append({"role": "user", "content": message.content})
            else:
                chat.append({"role": "assistant", "content": message.content})
        try:
            async with client, asyncio.timeout(timeout_s):
                response = await client.chat.completions.create(model=model, messages=chat, timeout=timeout_s)
        except (openai.APIError, TimeoutError) as error:
            raise self._error(error, timeout_s) from None
        if not response.choices:
            raise ProviderError(self.name, "error", f"{self.label} returned no answer.")
        return response.choices[0].message.content or ""

    async def probe(self, timeout_s: float) -> str | None:
        """Lists models: checks the address and the key without spending tokens."""
        try:
            client = self._client()
            async with client, asyncio.timeout(timeout_s):
                await client.models.list(timeout=timeout_s)
        except ProviderError as error:
            return error.detail
        except (openai.APIError, TimeoutError) as error:
            return self._error(error, timeout_s).detail
        return None

    def _error(self, error: Exception, timeout_s: float) -> ProviderError:
        if isinstance(error, TimeoutError | openai.APITimeoutError):
            return ProviderError(self.name, "timeout", timeout_sentence(self.label, timeout_s))
        if isinstance(error, openai.APIConnectionError):
            detail = (
                f"Could not connect to {self.label} at {self.config.base_url}. Check the internet connection."
            )
            return ProviderError(self.name, "unreachable", detail)
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            cause = cause_for_status(status)
            if self._refine_status is not None:
                cause = self._refine_status(status, f"{error.message} {error.body!r}") or cause
            if cause == "bad_key" and status not in (401, 403):
                detail = f"{self.label} rejected the API key (HTTP {status}). Check that the key is correct."
            else:
                detail = status_sentence(self.label, status, error.message, secret=self._api_key)
            return ProviderError(self.name, cause, detail)
        detail = f"{self.label} failed: {redact(str(error), self._api_key)[:300]}"
        return ProviderError(self.name, "error", detail)


openai_provider = functools.partial(OpenAICompatibleProvider, name="openai", label="OpenAI")
