"""Typed configuration of the LLM providers: base URLs, model names, limits. Data, not code.

Model names change often, so every one of them lives here with an env override:
ROBOCOACH_<PROVIDER>_MODEL, ROBOCOACH_<PROVIDER>_BASE_URL, ROBOCOACH_<PROVIDER>_TIMEOUT_S (and
OLLAMA_HOST, the variable Ollama's own tools read). Tests point the base URLs at stub servers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

RemoteProviderName = Literal["ollama", "anthropic", "openai", "deepseek", "gemini"]
REMOTE_PROVIDERS: tuple[RemoteProviderName, ...] = ("ollama", "anthropic", "openai", "deepseek", "gemini")

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0, le=3600)]


class ProviderConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://")]
    timeout_s: PositiveSeconds = 120.0  # one whole completion, retries included
    max_tokens: Annotated[int, msgspec.Meta(ge=256, le=65536)] = 4096  # Anthropic requires it


class LLMConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    ollama: ProviderConfig = ProviderConfig(
        # A local model on CPU can take minutes for a 2 KB program.
        model="qwen2.5-coder:7b",
        base_url="http://127.0.0.1:11434",
        timeout_s=300.0,
    )
    anthropic: ProviderConfig = ProviderConfig(
        model="claude-sonnet-5-5", base_url="https://api.anthropic.com"
    )
    openai: ProviderConfig = ProviderConfig(model="gpt-5.5", base_url="https://api.openai.com/v1")
    deepseek: ProviderConfig = ProviderConfig(model="deepseek-chat", base_url="https://api.deepseek.com")
    # Gemini through Google's OpenAI-compatible endpoint: same client, same error types as OpenAI.
    gemini: ProviderConfig = ProviderConfig(
        model="gemini-2.5-flash", base_url="https://generativelanguage.googleapis.com/v1beta/openai/"
    )
    # SDK retries on 429/5xx/connection errors. Each retry can wait seconds; the user is waiting too.
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=5)] = 1
    probe_timeout_s: PositiveSeconds = 1.0  # Ollama reachability check when listing providers
    probe_cache_s: Annotated[float, msgspec.Meta(ge=0, le=600)] = 5.0

    def provider(self, name: RemoteProviderName) -> ProviderConfig:
        config: ProviderConfig = getattr(self, name)
        return config


def load_llm_config(environ: Mapping[str, str] | None = None) -> LLMConfig:
    """Defaults overridden by env vars; a malformed value fails loudly (msgspec.ValidationError)."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for name in REMOTE_PROVIDERS:
        base = msgspec.to_builtins(LLMConfig().provider(name))
        prefix = f"ROBOCOACH_{name.upper()}_"
        for field in ("model", "base_url", "timeout_s", "max_tokens"):
            value = env.get(prefix + field.upper())
            if value:
                base[field] = value
        if name == "ollama" and not env.get(prefix + "BASE_URL") and env.get("OLLAMA_HOST"):
            base["base_url"] = _ollama_host_url(env["OLLAMA_HOST"])
        raw[name] = base
    for field, variable in (
        ("max_retries", "ROBOCOACH_LLM_MAX_RETRIES"),
        ("probe_timeout_s", "ROBOCOACH_LLM_PROBE_TIMEOUT_S"),
        ("probe_cache_s", "ROBOCOACH_LLM_PROBE_CACHE_S"),
    ):
        if env.get(variable):
            raw[field] = env[variable]
    # strict=False lets "30" from the environment become 30.0.
    return msgspec.convert(raw, type=LLMConfig, strict=False)


def _ollama_host_url(host: str) -> str:
    """OLLAMA_HOST may be `0.0.0.0:11434` or `localhost`; give it a scheme and port as Ollama does."""
    host = host.strip().rstrip("/")
    if not host.startswith(("http://", "https://")):
        host = "http://" + host
    scheme, _, rest = host.partition("://")
    if ":" not in rest.split("/")[0]:
        rest = rest.replace("/", ":11434/", 1) if "/" in rest else rest + ":11434"
    if rest.startswith("0.0.0.0"):  # a listen address; connect over loopback # noqa: S104
        rest = "127.0.0.1" + rest[len("0.0.0.0") :]  # noqa: S104
    return f"{scheme}://{rest}"
