"""Claude through the official `anthropic` SDK (POST /v1/messages)."""

from __future__ import annotations

import asyncio

import anthropic
from anthropic.types import AssistantMessageParam, MessageParam, UserMessageParam

from server.llm.config import ProviderConfig
from server.llm.credentials import ENV_VARS
from server.llm.provider import (
    ChatMessage,
    ProviderError,
    cause_for_status,
    no_key_sentence,
    redact,
    status_sentence,
    timeout_sentence,
)
from server.llm.types import ProviderName


class AnthropicProvider:
    name: ProviderName = "anthropic"
    label = "Claude (Anthropic)"
    needs_key = True

    def __init__(self, config: ProviderConfig, api_key: str | None, max_retries: int) -> None:
        self.config = config
        self._api_key = api_key
        self._max_retries = max_retries

    def __repr__(self) -> str:  # the default would be harmless, but never risk printing the key
        return f"AnthropicProvider(base_url={self.config.base_url!r})"

    def _client(self) -> anthropic.AsyncAnthropic:
        if not self._api_key:
            raise ProviderError(self.name, "no_key", no_key_sentence(self.label, ENV_VARS[self.name]))
        return anthropic.AsyncAnthropic(
            api_key=self._api_key, base_url=self.config.base_url, max_retries=self._max_retries
        )

    async def complete(
        self, system: str, messages: list[ChatMessage], model: str, *, timeout_s: float
    ) -> str:
        client = self._client()
        chat: list[MessageParam] = []
        for message in messages:
            if message.role == "user":
                chat.append(UserMessageParam(role="user", content=message.content))
            else:
                chat.append(AssistantMessageParam(role="assistant", content=message.content))
        try:
            async with client, asyncio.timeout(timeout_s):
                response = await client.messages.create(
                    model=model,
                    max_tokens=self.config.max_tokens,
                    system=system,
                    messages=chat,
                    timeout=timeout_s,
                )
        except (anthropic.APIError, TimeoutError) as error:
            raise self._error(error, timeout_s) from None
        return "".join(block.text for block in response.content if block.type == "text")

    async def probe(self, timeout_s: float) -> str | None:
        """Lists models: checks the address and the key without spending tokens."""
        try:
            client = self._client()
            async with client, asyncio.timeout(timeout_s):
                await client.models.list(limit=1, timeout=timeout_s)
        except ProviderError as error:
            return error.detail
        except (anthropic.APIError, TimeoutError) as error:
            return self._error(error, timeout_s).detail
        return None

    def _error(self, error: Exception, timeout_s: float) -> ProviderError:
        if isinstance(error, TimeoutError | anthropic.APITimeoutError):
            return ProviderError(self.name, "timeout", timeout_sentence(self.label, timeout_s))
        if isinstance(error, anthropic.APIConnectionError):
            detail = (
                f"Could not connect to {self.label} at {self.config.base_url}. Check the internet connection."
            )
            return ProviderError(self.name, "unreachable", detail)
        if isinstance(error, anthropic.APIStatusError):
            status = error.status_code
            detail = status_sentence(self.label, status, error.message, secret=self._api_key)
            return ProviderError(self.name, cause_for_status(status), detail)
        detail = f"{self.label} failed: {redact(str(error), self._api_key)[:300]}"
        return ProviderError(self.name, "error", detail)
