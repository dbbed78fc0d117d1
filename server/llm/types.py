"""Typed records of the LLM layer that cross the API. API keys never appear in any of them."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

ProviderName = Literal["builtin", "ollama", "anthropic", "openai", "deepseek", "gemini"]


class ProviderStatus(msgspec.Struct, frozen=True, kw_only=True):
    name: ProviderName
    label: str  # e.g. "Claude (Anthropic)"
    model: str  # the model this provider will use, from settings
    needs_key: bool
    configured: bool  # a key is present (env var or saved), or none is needed
    key_source: Literal["environment", "saved", "none"]
    reachable: bool | None  # None: not checked (cloud providers are only checked on use)
    active: bool
    detail: str  # why it is not configured / not reachable, in a sentence


class ProviderList(msgspec.Struct, frozen=True, kw_only=True):
    active: ProviderName
    providers: list[ProviderStatus]


class SelectProvider(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    provider: ProviderName
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class SaveApiKey(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    provider: ProviderName
    api_key: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class ProviderFailure(msgspec.Struct, frozen=True, kw_only=True):
    """The body of a failed draft: which provider, what went wrong, and what the user can do."""

    provider: ProviderName
    cause: Literal["no_key", "bad_key", "rate_limited", "timeout", "unreachable", "bad_output", "error"]
    detail: str
    fallback: ProviderName = "builtin"
