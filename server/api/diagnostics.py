"""What the UI reports about its browser (WebGL on or off), kept for the launcher's checks and support."""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from server.api.health import _version
from server.settings import Settings

AnyRequest = Request[Any, Any, Any]


class ClientReport(msgspec.Struct, frozen=True, kw_only=True):
    webgl: bool
    webgl_renderer: str = msgspec.field(default="")
    user_agent: str = msgspec.field(default="")


class ReceivedClientReport(msgspec.Struct, frozen=True, kw_only=True):
    webgl: bool
    webgl_renderer: str
    user_agent: str
    received_at: datetime


class Diagnostics(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    python: str
    platform: str
    data_dir: str
    client: ReceivedClientReport | None  # null until a page has drawn its first frame


_MAX_TEXT = 500  # a report is free text from the page; keep it bounded


@post("/api/diagnostics/client", status_code=204, sync_to_thread=False)
def report_client(request: AnyRequest, data: JSONBody[ClientReport]) -> None:
    request.app.state.client_report = ReceivedClientReport(
        webgl=data.webgl,
        webgl_renderer=data.webgl_renderer[:_MAX_TEXT],
        user_agent=data.user_agent[:_MAX_TEXT],
        received_at=datetime.now(UTC),
    )


@get("/api/diagnostics", sync_to_thread=False)
def diagnostics(request: AnyRequest, settings: NamedDependency[Settings]) -> Diagnostics:
    return Diagnostics(
        version=_version("robocoach"),
        python=sys.version.split()[0],
        platform=platform.platform(),
        data_dir=str(settings.data_dir),
        client=request.app.state.get("client_report"),
    )
