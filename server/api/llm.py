"""LLM providers: which are configured and reachable, which one drafts, and saving an API key.

Keys go in and never come out: no response carries one.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import ClientException
from litestar.params import JSONBody

from server.llm.credentials import InvalidApiKeyError
from server.llm.types import ProviderList, SaveApiKey, SelectProvider

AnyRequest = Request[Any, Any, Any]


@get("/api/llm/providers")
async def list_providers(request: AnyRequest) -> ProviderList:
    providers: ProviderList = await request.app.state.llm.providers()
    return providers


@post("/api/llm/select", status_code=200)
async def select_provider(request: AnyRequest, data: JSONBody[SelectProvider]) -> ProviderList:
    providers: ProviderList = await request.app.state.llm.select(data)
    return providers


@post("/api/llm/keys", status_code=200)
async def save_api_key(request: AnyRequest, data: JSONBody[SaveApiKey]) -> ProviderList:
    """Saves the key with owner-only permissions in the data directory; the reply shows only status."""
    try:
        providers: ProviderList = await request.app.state.llm.save_key(data)
    except InvalidApiKeyError as exc:
        raise ClientException(detail=str(exc)) from exc
    return providers
