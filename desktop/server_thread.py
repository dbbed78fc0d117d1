"""The Litestar app served by uvicorn on a background thread of the launcher's own process.

The socket is bound here, before the app is built, because the app's Host check needs the real port
(port 0 picks a free one). uvicorn runs with `log_config=None` so it logs through our handlers and never
touches stdout, which is None in a windowed frozen build.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


class ServerStartupError(RuntimeError):
    """The server thread ended, or did not report ready in time, before accepting connections."""


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; port 0 lets the OS pick a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # A fixed port must be reusable right after a previous run whose connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock  # not inheritable (Python's default): no worker process may hold the server's socket


def bound_port(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


class ServerThread:
    """uvicorn.Server over an already bound socket, run on a daemon thread.

    `start()` returns once uvicorn accepts connections (its lifespan startup has finished); `stop()` asks
    uvicorn to finish open requests, waits for the thread, and closes the socket so the port is free.
    """

    def __init__(self, app: Any, sock: socket.socket, *, log_level: str = "info") -> None:
        self._sock = sock
        config = uvicorn.Config(
            app,
            ws="websockets-sansio",
            log_config=None,
            log_level=log_level,
            lifespan="on",
            # Seconds to wait for open connections (WebSockets included) before cancelling them.
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="robocoach-server", daemon=True)
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return bound_port(self._sock)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except SystemExit:
            # uvicorn exits this way when the app's lifespan startup fails; it has logged the cause.
            pass
        except BaseException as exc:
            self._error = exc
            log.exception("server thread failed")

    def start(self, timeout: float = 60.0) -> None:
        """Starts the thread and waits until uvicorn serves; raises ServerStartupError otherwise."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._sock.close()
                reason = f": {self._error!r}" if self._error else " (the app's startup failed; see the log)"
                raise ServerStartupError(f"the server stopped during startup{reason}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartupError(f"the server did not start within {timeout:.0f} s")
            time.sleep(0.02)
        log.info("server listening on port %d", self.port)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        """Graceful shutdown (lifespan shutdown runs); forced if it takes longer than `timeout`."""
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("server did not stop within %.0f s; forcing exit", timeout)
                self._server.force_exit = True
                self._thread.join(5)
        # uvicorn closes its listening server; closing our handle too releases the port in every case.
        self._sock.close()
        log.info("server stopped")
