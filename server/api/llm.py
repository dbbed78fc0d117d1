"""LLM providers: which are configured and reachable, which one drafts, and saving an API key.

Keys go in and never come out: no response carries one.
"""

from __future__ import annotations

from litestar import get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import JSONBody

from server.llm.credentials import InvalidApiKeyError
from server.llm.service import LLMService
from server.llm.types import ProviderList, SaveApiKey, SelectProvider


@get("/api/llm/providers")
async def list_providers(llm: NamedDependency[LLMService]) -> ProviderList:
    return await llm.providers()


@post("/api/llm/select", status_code=200)
async def select_provider(llm: NamedDependency[LLMService], data: JSONBody[SelectProvider]) -> ProviderList:
    return await llm.select(data)


@post("/api/llm/keys", status_code=200)
async def save_api_key(llm: NamedDependency[LLMService], data: JSONBody[SaveApiKey]) -> ProviderList:
    """Saves the key with owner-only permissions in the data directory; the reply shows only status."""
    try:
        return await llm.save_key(data)
    except InvalidApiKeyError as exc:
        raise ClientException(detail=str(exc)) from exc
