"""Ollama, a local model server, through the official `ollama` client (POST /api/chat)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import ollama

from server.llm.config import ProviderConfig
from server.llm.provider import ChatMessage, ProviderError, redact, timeout_sentence
from server.llm.types import ProviderName

log = logging.getLogger(__name__)


class OllamaProvider:
    name: ProviderName = "ollama"
    label = "Ollama (local)"
    needs_key = False

    def __init__(self, config: ProviderConfig, api_key: str | None = None, max_retries: int = 0) -> None:
        del api_key, max_retries  # a local server: no key; retrying a local failure does not help
        self.config = config

    def _client(self, timeout_s: float) -> ollama.AsyncClient:
        return ollama.AsyncClient(host=self.config.base_url, timeout=timeout_s)

    async def complete(
        self, system: str, messages: list[ChatMessage], model: str, *, timeout_s: float
    ) -> str:
        chat = [{"role": "system", "content": system}] + [
            {"role": m.role, "content": m.content} for m in messages
        ]
        try:
            async with asyncio.timeout(timeout_s):
                async with self._client(timeout_s) as client:
                    response = await client.chat(model=model, messages=chat, stream=False)
        except ollama.ResponseError as error:
            raise self._response_error(error, model) from None
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderError(self.name, "timeout", timeout_sentence(self.label, timeout_s)) from None
        except (ConnectionError, httpx.TransportError):
            raise ProviderError(self.name, "unreachable", self._unreachable()) from None
        return response.message.content or ""

    async def probe(self, timeout_s: float) -> str | None:
        try:
            async with asyncio.timeout(timeout_s):
                async with self._client(timeout_s) as client:
                    await client.list()
        except (TimeoutError, httpx.TimeoutException):
            return f"{self.label} did not answer at {self.config.base_url} within {timeout_s:g} s."
        except (ConnectionError, httpx.TransportError):
            return self._unreachable()
        except ollama.ResponseError as error:
            return (
                f"{self.label} at {self.config.base_url} answered with an error: {redact(error.error, None)}"
            )
        return None

    def _unreachable(self) -> str:
        return (
            f"Could not connect to {self.label} at {self.config.base_url}. "
            "Is Ollama installed and running (`ollama serve`)?"
        )

    def _response_error(self, error: ollama.ResponseError, model: str) -> ProviderError:
        if error.status_code == 404:
            # Ollama's answer when the model has not been pulled: the fix is one command.
            detail = (
                f"{self.label} has no model named {model!r}. Run `ollama pull {model}` or pick another model."
            )
            return ProviderError(self.name, "error", detail)
        if error.status_code in (401, 403):
            return ProviderError(
                self.name, "bad_key", f"{self.label} refused the request (HTTP {error.status_code})."
            )
        if error.status_code == 429:
            return ProviderError(
                self.name, "rate_limited", f"{self.label} is busy (HTTP 429). Try again shortly."
            )
        text = redact(str(error.error), None)[:300]
        return ProviderError(
            self.name, "error", f"{self.label} answered with an error (HTTP {error.status_code}): {text}"
        )
