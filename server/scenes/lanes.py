"""One single-process pool per worker "lane", so a crash is pinned on exactly the task that caused it.

With one shared pool, a worker dying (out of memory, a segfault in native code) breaks every in-flight
future and we could not tell which scene was guilty. A lane runs one task at a time in its own spawned
process and is recreated after a crash or a timeout.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from server.sandbox.confine import child_signals
from server.workers import yield_cpu

T = TypeVar("T")

# Spawn, never fork: the API process runs threads and an event loop, and workers import JAX.
_SPAWN = multiprocessing.get_context("spawn")


def _low_priority_child() -> None:
    """A lane process's initializer for background work: the lowest priority (nice 19, SCHED_IDLE),
    before it imports JAX, so every thread it starts inherits it."""
    child_signals()
    yield_cpu()


class WorkerDiedError(RuntimeError):
    """The lane's process exited (or was killed after a timeout) while running a task."""


class Lane:
    def __init__(self, name: str, *, low_priority: bool = False) -> None:
        self.name = name
        self._initializer = _low_priority_child if low_priority else child_signals
        self._pool: ProcessPoolExecutor | None = None
        self._dead: list[ProcessPoolExecutor] = []  # killed pools, joined at close

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=_SPAWN, initializer=self._initializer)
        return self._pool

    async def call(self, timeout_s: float, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in this lane's process; raise WorkerDiedError if that process dies or times out."""
        from concurrent.futures.process import BrokenProcessPool

        future = self._executor().submit(fn, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
        except BrokenProcessPool as exc:
            self.kill()
            raise WorkerDiedError(
                "the worker process died (a crash in native code or out of memory)"
            ) from exc
        except TimeoutError as exc:
            self.kill()
            raise WorkerDiedError(
                f"timed out after {timeout_s:.0f} s; the worker process was stopped"
            ) from exc
        except asyncio.CancelledError:
            # Nobody will read the result; stop the work instead of letting it run on.
            self.kill()
            raise

    def kill(self) -> None:
        """Stop the lane's process now, without waiting; the next call starts a fresh one."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor has no public way to stop a running task; its process table is the only
        # handle (CPython 3.8-3.13). Results are written atomically, so killing mid-export leaves no
        # half-written scene, at most a stray temp file.
        processes = getattr(pool, "_processes", None) or {}
        for process in list(processes.values()):
            if process.is_alive():
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        self._dead.append(pool)

    async def close(self) -> None:
        self.kill()
        dead, self._dead = self._dead, []
        for pool in dead:
            # Processes are already killed, so this join is quick; run it off the event loop anyway.
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
