"""One adapter per LLM provider, all behind `server.llm.provider.Provider`; `build_provider` picks one."""

from __future__ import annotations

from collections.abc import Callable

from server.llm.config import LLMConfig, ProviderConfig, RemoteProviderName
from server.llm.provider import Provider
from server.llm.providers.anthropic import AnthropicProvider
from server.llm.providers.deepseek import deepseek_provider
from server.llm.providers.gemini import gemini_provider
from server.llm.providers.ollama import OllamaProvider
from server.llm.providers.openai import openai_provider

ProviderFactory = Callable[[ProviderConfig, str | None, int], Provider]

# name -> factory(config, api_key, max_retries). A new provider is one module and one line here.
FACTORIES: dict[RemoteProviderName, ProviderFactory] = {
    "ollama": OllamaProvider,
    "anthropic": AnthropicProvider,
    "openai": openai_provider,
    "deepseek": deepseek_provider,
    "gemini": gemini_provider,
}


def build_provider(name: RemoteProviderName, config: LLMConfig, api_key: str | None) -> Provider:
    return FACTORIES[name](config.provider(name), api_key, config.max_retries)
