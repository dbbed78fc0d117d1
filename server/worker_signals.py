"""Signal handling shared by every worker process the server starts."""

from __future__ import annotations

import signal


def ignore_stop_signals() -> None:
    """Workers are stopped by their parent (SIGKILL on close, or EOF on their pipe when it dies). A Ctrl+C
    or SIGTERM delivered to the whole process group must not kill them mid-task first, where the parent
    would record it as a crash of the scene or program they were working on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
