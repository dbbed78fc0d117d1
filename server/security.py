"""Local-app security: a per-launch token on every API call, and Host/Origin checks on everything.

A page on any website can make the user's browser send requests to 127.0.0.1; the token stops it from
calling the API, and the Host/Origin checks stop DNS-rebinding pages from reading even the UI.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlsplit

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send, WebSocketAcceptEvent

from server.settings import Settings

API_PREFIX = "/api"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _presented_token(scope: Scope) -> str | None:
    authorization = _header(scope, b"authorization")
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    if scope["type"] == ScopeType.WEBSOCKET:
        # Browsers cannot set headers on a WebSocket handshake, so sockets carry it in the query.
        query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
        values = query.get("token")
        return values[0] if values else None
    return None


def refusal(scope: Scope, settings: Settings) -> tuple[int, str] | None:
    """(status, reason) when the request must be refused: foreign Host/Origin 403, bad token on /api 401."""
    host = _header(scope, b"host") or ""
    if not settings.allow_remote and host not in settings.origin_hosts:
        return 403, f"requests must be addressed to this app (Host '{host}' is not allowed)"
    origin = _header(scope, b"origin")
    if origin is not None and origin != "null":
        origin_host = urlsplit(origin).netloc
        if origin_host != host or (not settings.allow_remote and origin_host not in settings.origin_hosts):
            return 403, f"cross-origin request from '{origin}' refused"
    if scope["path"] == API_PREFIX or scope["path"].startswith(API_PREFIX + "/"):
        presented = _presented_token(scope)
        if presented is None or not secrets.compare_digest(presented.encode(), settings.token.encode()):
            return 401, "missing or wrong token: open the URL that robocoach printed at start-up"
    return None


# WebSocket close codes (server/wire_ts.py copies them, with their comments, into the UI's types).
CLOSE_UNAUTHORIZED = 4401  # a missing or wrong launch token: open the URL that robocoach printed
# Closing before accept answers the handshake with HTTP 403: a browser reports 1006, never this code.
CLOSE_HANDSHAKE_REFUSED = 1008


class LocalAccessGuard(ASGIMiddleware):
    """Applies `refusal` to every routed request and WebSocket (unrouted ones meet it in the 404 handler)."""

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        refused = refusal(scope, self.settings)
        if refused is None:
            await next_app(scope, receive, send)
            return
        status, detail = refused
        if scope["type"] == ScopeType.WEBSOCKET:
            if status == 401:
                # Same-origin page, wrong token: accept and close with a code the page can read (a
                # refused handshake reaches browser code as a bare 1006).
                await receive()  # websocket.connect
                accept: WebSocketAcceptEvent = {
                    "type": "websocket.accept",
                    "subprotocol": None,
                    "headers": [],
                }
                await send(accept)
                await send({"type": "websocket.close", "code": CLOSE_UNAUTHORIZED, "reason": detail[:120]})
                return
            # A foreign Host/Origin gets no handshake at all: closing before accept answers HTTP 403.
            await send({"type": "websocket.close", "code": CLOSE_HANDSHAKE_REFUSED, "reason": detail})
            return
        body = json.dumps({"status_code": status, "detail": detail}).encode()
        response = ASGIResponse(body=body, status_code=status, media_type="application/json")
        await response(scope, receive, send)
