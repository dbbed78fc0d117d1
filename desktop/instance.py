"""One Robocoach per data dir: the first instance holds an exclusive lock on `<data_dir>/instance.lock`
for its whole life and says where it serves in `<data_dir>/instance.json` (mode 0600: it holds the token).

Two servers on one data dir would both recover its "running" training jobs (server/training/manager.py
kills the orphan worker and resumes the job), i.e. kill each other's workers and write one job folder
twice, and both would write the SQLite file and the policy library. So a second copy does not start a
server: `robocoach` opens a window onto the first one's URL, `robocoach serve` prints that URL, and
`robocoach train` refuses. The lock is an flock, released by the kernel however the holder ends, so an
instance.json left by a crashed instance is stale and ignored (nobody holds the lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from server.files import write_atomic

LOCK_FILE = "instance.lock"
INFO_FILE = "instance.json"


@dataclass(frozen=True)
class RunningInstance:
    pid: int
    url: str  # with the token: never log it as it is (desktop/logs.py redact_url)


class InstanceLock:
    """Held from `acquire` until the process ends (or `release`). Its descriptor is not inherited by
    worker processes (Python opens files non-inheritable), so a worker outliving us does not keep it."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> InstanceLock | None:
        """The lock, or None when another process holds it."""
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:
            os.close(fd)
            raise
        lock = cls(data_dir, fd)
        # Whatever an earlier holder wrote is stale now.
        with contextlib.suppress(FileNotFoundError):
            (data_dir / INFO_FILE).unlink()
        return lock

    def publish(self, url: str) -> None:
        """Tell later copies where this instance serves (written atomically, readable by the user only)."""
        info = json.dumps({"pid": os.getpid(), "url": url}).encode()
        write_atomic(self.data_dir / INFO_FILE, info, mode=0o600)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / INFO_FILE).unlink()
        os.close(self._fd)  # closing the only descriptor releases the flock
        self._fd = None


def is_held(data_dir: Path) -> bool:
    """True while some process holds the data dir's lock (checked by trying to take it, shared)."""
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def running_instance(data_dir: Path, wait_s: float = 30.0) -> RunningInstance | None:
    """The instance serving `data_dir`: its pid and URL. A holder that has not published yet (it is still
    starting) is waited for, up to `wait_s`; None when nobody holds the lock (a left-over instance.json is
    ignored) or the holder never says where it serves."""
    deadline = time.monotonic() + wait_s
    while True:
        if not is_held(data_dir):
            return None
        try:
            info = json.loads((data_dir / INFO_FILE).read_text())
            return RunningInstance(pid=int(info["pid"]), url=str(info["url"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not written yet (or half-written by a crashed holder)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)
