"""The launcher's parts in process: token redaction, host checks, Qt environment, server thread."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from litestar import Litestar, get

from desktop.cli import page_url
from desktop.logs import REDACTED, RedactTokenFilter, redact_url, setup_logging
from desktop.server_thread import ServerStartupError, ServerThread, bind_socket, is_loopback
from desktop.window import SOFTWARE_GL_FLAGS, configure_qt_environment, needs_software_gl
from tests.desktop.conftest import port_is_free

TOKEN = "s3cr3t-Token_value"


def test_redact_url_hides_only_the_token() -> None:
    url = f"http://127.0.0.1:8000/?scene=go1&token={TOKEN}"
    assert redact_url(url) == f"http://127.0.0.1:8000/?scene=go1&token={REDACTED}"


def test_log_records_never_carry_the_token(tmp_path: Path) -> None:
    log_path = setup_logging(tmp_path, "info", TOKEN)
    try:
        # uvicorn's access line formats the path, query included, from args.
        logging.getLogger("uvicorn.access").info(
            '%s - "GET %s HTTP/1.1" 200', "127.0.0.1:1", f"/?token={TOKEN}"
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = log_path.read_text()
        assert f"/?token={REDACTED}" in text
        assert TOKEN not in text
    finally:
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_redact_filter_leaves_other_records_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "port %d", (8000,), None)
    assert RedactTokenFilter(TOKEN).filter(record)
    assert record.getMessage() == "port 8000"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_page_url_points_a_browser_at_loopback_for_wildcard_hosts() -> None:
    assert page_url("0.0.0.0", 8000, "t") == "http://127.0.0.1:8000/?token=t"
    assert page_url("::1", 8000, "t") == "http://[::1]:8000/?token=t"
    assert page_url("192.168.1.5", 8000, "t") == "http://192.168.1.5:8000/?token=t"


def test_software_gl_detection() -> None:
    gpu = ["/dev/dri/renderD128"]
    assert needs_software_gl({}, [])[0] is True  # no render node
    assert needs_software_gl({"LIBGL_ALWAYS_SOFTWARE": "1"}, gpu)[0] is True
    assert needs_software_gl({"DISPLAY": ":4242"}, gpu)[0] is False  # a GPU and no Xvfb on :4242


def test_qt_environment_appends_software_gl_flags_once() -> None:
    env = {"QTWEBENGINE_CHROMIUM_FLAGS": "--remote-debugging-port=9222 --ignore-gpu-blocklist"}
    configure_qt_environment(True, env)
    configure_qt_environment(True, env)  # idempotent
    flags = env["QTWEBENGINE_CHROMIUM_FLAGS"].split()
    assert flags == ["--remote-debugging-port=9222", *SOFTWARE_GL_FLAGS.split()]
    assert env["QT_API"] == "pyside6"


def _app_with_startup(startup: Callable[[], Awaitable[None]]) -> Litestar:
    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await startup()
        yield

    @get("/ping", sync_to_thread=False)
    def ping() -> str:
        return "pong"

    return Litestar([ping], lifespan=[lifespan])


def test_server_thread_serves_then_frees_the_port() -> None:
    async def fine() -> None:
        return None

    sock = bind_socket("127.0.0.1", 0)
    server = ServerThread(_app_with_startup(fine), sock, log_level="warning")
    server.start(timeout=30)
    port = server.port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=10) as response:
        assert response.read() == b"pong"
    assert not port_is_free(port)
    server.stop()
    assert not server.is_alive()
    assert port_is_free(port)


def test_server_thread_reports_a_failed_startup() -> None:
    async def broken() -> None:
        raise RuntimeError("database is locked")

    sock = bind_socket("127.0.0.1", 0)
    port: int = sock.getsockname()[1]
    server = ServerThread(_app_with_startup(broken), sock, log_level="critical")
    with pytest.raises(ServerStartupError, match="startup"):
        server.start(timeout=30)
    assert port_is_free(port)
