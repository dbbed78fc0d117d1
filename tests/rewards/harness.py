"""A real `RewardChecker` (and its sandboxed worker) driven from synchronous tests on one event loop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from server.rewards.checker import RewardChecker

T = TypeVar("T")


class Harness:
    def __init__(self, checker: RewardChecker) -> None:
        self.checker = checker
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def prepare(self, scene_id: str, base: Path | None = None) -> Any:
        async def start() -> Any:
            return self.checker.prepare(scene_id, base)  # needs a running loop for its background task

        return self.run(start())

    def restart_and_prepare(self, scene_id: str) -> Any:
        """Kill the worker (a crash), then prepare `scene_id` in the fresh one; its PrepareStatus."""
        checker = self.checker
        pid, process = checker.worker_pid, checker._process
        assert pid is not None and process is not None
        os.kill(pid, 9)
        self.run(asyncio.wait_for(process.proc.wait(), 30))  # reaped: the checker can see it is gone
        assert checker.prepare_status(scene_id).state == "idle"  # the scene went with the process
        assert self.prepare(scene_id).state == "preparing"
        done = self.run(checker.wait_prepared(scene_id))
        assert done.state == "prepared", done.error
        assert checker.worker_pid != pid
        return done


def open_harness(tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any) -> Iterator[Harness]:
    """A test module's Harness: a RewardChecker (`options` passed on) with its own cache, or the one
    ROBOCOACH_TEST_REWARD_CACHE names (to share compiled scenes between modules); closed at the end."""
    cache = Path(os.environ.get("ROBOCOACH_TEST_REWARD_CACHE") or tmp_path_factory.mktemp(name))
    harness = Harness(RewardChecker(cache, **options))
    yield harness
    harness.run(harness.checker.close())
    harness.loop.close()
