"""Logging for the launcher: a rotating file in the state dir plus stderr, with the token redacted."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

LOG_FILE_NAME = "robocoach.log"
REDACTED = "<redacted>"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"


def redact_url(url: str) -> str:
    """The URL with any `token` query value replaced, for logs and error messages."""
    parts = urlsplit(url)
    query = [(k, REDACTED if k == "token" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="<>")))


class RedactTokenFilter(logging.Filter):
    """Replaces the token wherever it appears in a record (uvicorn access lines carry `?token=`)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token in message:
            record.msg = message.replace(self._token, REDACTED)
            record.args = None
        return True


# Libraries that install their own handlers; we send their records through ours instead.
# (Litestar's default logging config replaces the root handlers when an app is created.)
_ADOPTED_LOGGERS = ("litestar",)


def setup_logging(state_dir: Path, level: str, token: str) -> Path:
    """Configures the root logger; returns the log file's path. Idempotent: call it again after
    creating the Litestar app, which reconfigures logging.

    Filters sit on the handlers, not on loggers, because handler filters also see records that
    propagate up from library loggers such as `uvicorn.access`.
    """
    log_path = state_dir / LOG_FILE_NAME
    redact = RedactTokenFilter(token)
    formatter = logging.Formatter(_FORMAT)
    file_handler = logging.handlers.RotatingFileHandler(
        log_path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [file_handler]
    if sys.stderr is not None:  # None in a windowed frozen build
        handlers.append(logging.StreamHandler(sys.stderr))  # not stdout: that carries the URL line
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redact)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        for old in list(adopted.handlers):
            adopted.removeHandler(old)
        adopted.propagate = True
    return log_path
