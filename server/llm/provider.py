"""The one plug point every LLM adapter implements, and the one error every adapter raises.

Adapters are thin: they turn (system prompt, chat messages, model) into a reply string with an official
SDK, and turn that SDK's exceptions into `ProviderError`s whose text a user can act on. Nothing here
logs or returns an API key; `redact` is applied to every server-supplied text we pass on.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

import msgspec

from server.llm.types import ProviderFailure, ProviderName
from server.rewards.types import ValidationReport

# Mirrors ProviderFailure.cause (tests/llm checks they agree); a named alias reads better in signatures.
FailureCause = Literal["no_key", "bad_key", "rate_limited", "timeout", "unreachable", "bad_output", "error"]


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One turn of the conversation after the system prompt."""

    role: Literal["user", "assistant"]
    content: str


class ProviderError(Exception):
    """A draft failed at a provider. `str(error)` is the user-facing sentence; `failure` the API body."""

    def __init__(
        self,
        provider: ProviderName,
        cause: FailureCause,
        detail: str,
        *,
        report: ValidationReport | None = None,
        program: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.provider: ProviderName = provider
        self.cause: FailureCause = cause
        self.detail = detail
        self.report = report  # bad_output: the last validation report
        self.program = program  # bad_output: the last program the model wrote

    @property
    def failure(self) -> ProviderFailure:
        return ProviderFailure(provider=self.provider, cause=self.cause, detail=self.detail)


class Provider(Protocol):
    """An LLM behind one SDK. Construct one per use: keys and settings may change between calls."""

    @property
    def name(self) -> ProviderName: ...

    @property
    def label(self) -> str: ...  # e.g. "Claude (Anthropic)", used in every message

    @property
    def needs_key(self) -> bool: ...

    async def complete(
        self, system: str, messages: list[ChatMessage], model: str, *, timeout_s: float
    ) -> str:
        """The model's reply text. Raises ProviderError (never an SDK exception) on any failure."""
        ...

    async def probe(self, timeout_s: float) -> str | None:
        """None when the service answers (and accepts the key), else the reason, in a sentence."""
        ...


def cause_for_status(status: int) -> FailureCause:
    if status in (401, 403):
        return "bad_key"
    if status == 429:
        return "rate_limited"
    return "error"


def status_sentence(label: str, status: int, server_message: str, *, secret: str | None) -> str:
    """The sentence for an HTTP error answer. Server text is only quoted for causes the user cannot
    infer from the status alone, and always redacted (OpenAI's 401 text echoes part of the key)."""
    cause = cause_for_status(status)
    if cause == "bad_key":
        return (
            f"{label} rejected the API key (HTTP {status}). Check that the key is correct and still active."
        )
    if cause == "rate_limited":
        return (
            f"{label} is limiting requests (HTTP 429: rate limit or quota reached). "
            "Wait a minute and try again, or check your plan."
        )
    quoted = redact(server_message, secret).strip()
    quoted = quoted[:300] + ("..." if len(quoted) > 300 else "")
    return f"{label} answered with an error (HTTP {status})" + (f": {quoted}" if quoted else ".")


def no_key_sentence(label: str, env_vars: tuple[str, ...]) -> str:
    return f"{label} needs an API key: save one in the provider settings or set {' or '.join(env_vars)}."


def timeout_sentence(label: str, timeout_s: float) -> str:
    return f"{label} did not answer within {timeout_s:g} s. Try again, or pick a faster model or provider."


# Shapes of API keys that servers echo (masked or not) in error texts: sk-..., sk-ant-..., AIza...
_KEY_SHAPES = re.compile(r"\b(?:sk-[A-Za-z0-9_*.\-]{4,}|AIza[A-Za-z0-9_*\-]{4,})")


def redact(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "[redacted]")
    return _KEY_SHAPES.sub("[redacted]", text)
