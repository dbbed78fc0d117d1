"""One attempt to get out of a confined worker, and what happened (used by probe.py and the tests)."""

from __future__ import annotations

import os
import signal
import socket
from typing import Literal

import msgspec

Action = Literal["read", "write", "connect", "accept", "signal"]


class Attempt(msgspec.Struct, frozen=True):
    action: Action
    target: str  # a path, a TCP port on 127.0.0.1, a file descriptor number, or a pid


def attempt(action: Action, target: str) -> str:
    """ "allowed" or "denied: <error>" for one escape attempt."""
    try:
        if action == "read":
            with open(target, "rb") as file:  # noqa: PTH123 (plain open: exactly the call an attacker makes)
                file.read(64)
        elif action == "write":
            with open(target, "wb") as file:  # noqa: PTH123
                file.write(b"escaped")
        elif action == "connect":
            socket.create_connection(("127.0.0.1", int(target)), timeout=2).close()
        elif action == "accept":
            listener = socket.socket(fileno=int(target))
            listener.settimeout(2)
            listener.accept()[0].close()
        elif action == "signal":
            os.kill(int(target), signal.SIGCONT)  # harmless if it were delivered; the test looks for denial
    except (OSError, ValueError) as exc:
        return f"denied: {type(exc).__name__}: {exc}"
    return "allowed"
