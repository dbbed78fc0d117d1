"""A real `RewardChecker` (and its sandboxed worker) driven from synchronous tests on one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

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
