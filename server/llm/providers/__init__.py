"""One adapter per LLM provider, all behind `server.llm.provider.Provider`; `build_provider` picks one.

Adapters are imported on first use: the SDKs take over a second to import, and the API process should
start fast whether or not the user ever drafts with a cloud provider.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from server.llm.config import LLMConfig, ProviderConfig, RemoteProviderName
from server.llm.provider import Provider

ProviderFactory = Callable[[ProviderConfig, str | None, int], Provider]

# name -> (module, factory(config, api_key, max_retries)). A new provider is one module and one line here.
FACTORIES: dict[RemoteProviderName, tuple[str, str]] = {
    "ollama": ("server.llm.providers.ollama", "OllamaProvider"),
    "anthropic": ("server.llm.providers.anthropic", "AnthropicProvider"),
    "openai": ("server.llm.providers.openai", "openai_provider"),
    "deepseek": ("server.llm.providers.deepseek", "deepseek_provider"),
    "gemini": ("server.llm.providers.gemini", "gemini_provider"),
}


def build_provider(name: RemoteProviderName, config: LLMConfig, api_key: str | None) -> Provider:
    module, attribute = FACTORIES[name]
    factory: ProviderFactory = getattr(importlib.import_module(module), attribute)
    return factory(config.provider(name), api_key, config.max_retries)
