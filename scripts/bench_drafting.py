"""Drafting latency with the built-in drafter (issue 13): first and second draft per scene, through the
real RewardChecker and its sandboxed trace worker, in three situations:

- cold: a fresh cache (no vocabulary JSON, no XLA compile cache), a fresh worker, no prepare;
- second launch: a new worker on the same cache (what the persistent compile cache saves);
- prepared: a new worker on the same cache, `prepare` awaited first (the UI asks when the scene is
  selected, so the person's typing hides it), then the draft.

A draft is what `/api/policy/generate` does with the built-in drafter: vocabulary, the reward program
validated, the success check validated on real rollouts. Usage:

    .venv/bin/python scripts/bench_drafting.py [SCENE ...] [--cache DIR]

DIR (default: a temporary folder) must be empty or absent for the cold figures to be cold; the
Menagerie scenes need the asset wheels (as the app does).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from server.llm.builtin import draft_builtin, draft_builtin_check
from server.rewards.checker import RewardChecker

TASKS = {
    "CartpoleBalance": ("balance the pole", "balance the pole with the cart at the left"),
    "CheetahRun": ("run forward fast", "run backwards"),
    "Go1JoystickFlatTerrain": ("make the dog walk backwards", "turn left on the spot"),
}


async def draft(checker: RewardChecker, scene_id: str, task: str) -> tuple[float, bool]:
    started = time.perf_counter()
    vocabulary = await checker.vocabulary(scene_id)
    report = await checker.validate(scene_id, draft_builtin(task, scene_id, vocabulary))
    check = await checker.validate_check(scene_id, draft_builtin_check(task, scene_id, vocabulary))
    return time.perf_counter() - started, report.ok and check.ok


async def launch(cache: Path, scene_id: str, *, prepare: bool) -> dict[str, object]:
    checker = RewardChecker(cache)
    first_task, second_task = TASKS.get(scene_id, ("move forward", "move backwards"))
    row: dict[str, object] = {}
    try:
        if prepare:
            started = time.perf_counter()
            checker.prepare(scene_id)
            status = await checker.wait_prepared(scene_id)
            row["prepare_s"] = time.perf_counter() - started
            row["phases"] = status.phases
            row["prepare_state"] = status.state
        row["first_s"], row["first_ok"] = await draft(checker, scene_id, first_task)
        row["second_s"], row["second_ok"] = await draft(checker, scene_id, second_task)
        row["worker_start_s"] = checker.last_start_s
    finally:
        await checker.close()
    return row


def fmt(row: dict[str, object]) -> str:
    parts = []
    if "prepare_s" in row:
        phases = ", ".join(f"{k} {v:.1f}" for k, v in row["phases"].items())  # type: ignore[attr-defined]
        parts.append(f"prepare {row['prepare_s']:.1f} s [{phases}]")
    parts.append(f"first draft {row['first_s']:.2f} s{'' if row['first_ok'] else ' (NOT ok)'}")
    parts.append(f"second {row['second_s']:.2f} s{'' if row['second_ok'] else ' (NOT ok)'}")
    parts.append(f"worker start {row['worker_start_s']:.1f} s")
    return "; ".join(parts)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("scenes", nargs="*", default=list(TASKS))
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    for scene_id in args.scenes:
        cache = args.cache or Path(tempfile.mkdtemp(prefix="bench-drafting-"))
        try:
            print(f"== {scene_id}", flush=True)
            for label, prepare in (("cold", False), ("second launch", False), ("prepared", True)):
                row = await launch(cache / scene_id, scene_id, prepare=prepare)
                print(f"  {label:14} {fmt(row)}", flush=True)
        finally:
            if args.cache is None:
                shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
