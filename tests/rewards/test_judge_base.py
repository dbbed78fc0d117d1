"""A drafted check judged on rollouts of a base policy in the real trace worker (RewardChecker.judge_base,
for the planner): the shipped CartpoleBalance base balances the pole near the middle, so it passes "keep
the pole upright" and fails "with the cart at the left" from every start; damaged or foreign policy files
are refused with the reason, and the worker goes on answering."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.llm.builtin import draft_builtin_check
from server.policies.manifest import MANIFEST_FILE, PARAMS_FILE
from server.rewards.checker import RewardWorkerError
from server.settings import SHIPPED_BASES_DIR
from tests.rewards.harness import Harness, open_harness

SCENE = "CartpoleBalance"
BASE = SHIPPED_BASES_DIR / SCENE


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from open_harness(tmp_path_factory, "judge")


def check_for(harness: Harness, task: str) -> str:
    vocabulary = harness.run(harness.checker.vocabulary(SCENE))
    return draft_builtin_check(task, SCENE, vocabulary)


def test_preparing_the_scene_rolls_out_its_base(harness: Harness) -> None:
    # What the app asks when a scene is picked (POST /api/rewards/prepare): the base's rollouts are made
    # then, so the draft's judgement only evaluates its check.
    assert harness.prepare(SCENE, BASE).state == "preparing"
    done = harness.run(harness.checker.wait_prepared(SCENE))
    assert done.state == "prepared", done.error
    assert "base rollouts" in done.phases
    # Kept on disk beside the sample rollouts, for the next launch (read as they are: a damaged file is
    # made again, tests/rewards/test_prepare.py).
    [kept] = (harness.checker.cache_dir / "check-samples").glob(f"{SCENE}-*-base-*.npz")
    assert kept.stat().st_size > 1000


def test_the_base_passes_its_own_task_and_fails_a_placed_cart(harness: Harness) -> None:
    upright = harness.run(
        harness.checker.judge_base(SCENE, check_for(harness, "keep the pole upright"), BASE)
    )
    assert upright.passed and upright.passed_episodes == upright.episodes == 10, upright.summary
    left = check_for(harness, "balance the pole with the cart at the left")
    placed = harness.run(harness.checker.judge_base(SCENE, left, BASE))
    assert placed.passed_episodes == 0, placed.summary
    offset = next(f for f in placed.figures if f.name == "cart_offset")
    assert offset.at_most is not None and offset.mean > offset.at_most  # the cart stays near the middle
    upright_share = next(f for f in placed.figures if f.name == "upright")
    assert upright_share.met == 10  # it still balances: only the placement fails
    # The same base and check again: the same verdict (fixed starts).
    assert harness.run(harness.checker.judge_base(SCENE, left, BASE)) == placed


def test_damaged_or_foreign_policy_files_are_refused(harness: Harness, tmp_path: Path) -> None:
    check = check_for(harness, "keep the pole upright")
    damaged = tmp_path / "damaged"
    shutil.copytree(BASE, damaged)
    data = bytearray((damaged / PARAMS_FILE).read_bytes())
    data[-1] ^= 0xFF
    (damaged / PARAMS_FILE).write_bytes(bytes(data))
    with pytest.raises(RewardWorkerError, match="params_sha256"):
        harness.run(harness.checker.judge_base(SCENE, check, damaged))

    foreign = tmp_path / "foreign"
    shutil.copytree(BASE, foreign)
    with pytest.raises(RewardWorkerError, match="is for CartpoleBalance, not CartpoleSwingup"):
        harness.run(harness.checker.judge_base("CartpoleSwingup", check, foreign))

    (foreign / MANIFEST_FILE).unlink()
    with pytest.raises(RewardWorkerError, match="cannot read the base policy"):
        harness.run(harness.checker.judge_base(SCENE, check, foreign))
    # None of that hurt the worker.
    assert harness.run(harness.checker.judge_base(SCENE, check, BASE)).passed
