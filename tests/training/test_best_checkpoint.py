"""Keeping the best evaluation by (verdict, check score, eval reward), on synthetic evaluations (the real
runner's side, with tiny jobs, is in tests/training/test_runner.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from server.checks.verdict import judge
from server.policies.manifest import NetworkConfig, PolicyManifest
from server.training.types import TrainingProgress
from tests.training.test_runner import PROGRAM


def _progress(step: int, reward: float, up: float | None = None) -> TrainingProgress:
    check = judge({"up": [up] * 3}, {"up": 0.9}, {}) if up is not None else None
    return TrainingProgress(
        step=step, total_steps=500, eval_reward=reward, reward_terms={}, task_reward=None,
        steps_per_second=1.0, elapsed_s=1.0, eta_s=None, check=check,
    )  # fmt: skip


def _manifest() -> PolicyManifest:
    from datetime import UTC, datetime

    network = NetworkConfig(
        policy_hidden_layer_sizes=[2], value_hidden_layer_sizes=[2], normalize_observations=False,
        policy_obs_key="state", value_obs_key="state",
    )  # fmt: skip
    return PolicyManifest(
        policy_id="p", name="", scene_id="CartpoleBalance", task_description="", program=PROGRAM,
        network=network, observation_size={"state": [5]}, action_size=1, ctrl_dt=0.01,
        training_config={}, metrics_history=[], final_eval_reward=None, created_at=datetime.now(UTC),
        versions={}, job_id=None, base_policy_id=None, params_sha256="",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("points", "kept_step"),
    [
        # A collapse: up to 1000, then down to 547. The peak is kept, not the end.
        (
            [
                (0, 10.0, None),
                (100, 900.0, None),
                (200, 1000.0, None),
                (300, 125.0, None),
                (400, 547.0, None),
            ],
            200,
        ),
        # The verdict outranks reward: the passing eval (300) beats a higher-reward failing one (200).
        ([(0, 10.0, 0.1), (100, 800.0, 0.5), (200, 990.0, 0.8), (300, 700.0, 0.95), (400, 995.0, 0.7)], 300),
        # No eval passes (score 0 for all): the reward decides among them.
        ([(0, 10.0, 0.1), (100, 900.0, 0.5), (200, 100.0, 0.8)], 100),
    ],
)
def test_best_keeper_keeps_the_peak_not_the_end(
    tmp_path: Path, points: list[tuple[int, float, float | None]], kept_step: int
) -> None:
    from server.policies.manifest import read_manifest
    from server.training.runner import _BestKeeper

    keeper = _BestKeeper(tmp_path, _manifest(), early_stop_evals=0)
    for step, reward, up in points:
        keeper.offer({"w": np.full(2, float(step), np.float32)}, _progress(step, reward, up))
    params, outcome = keeper.result(None, [])
    assert outcome is not None and outcome.stop_reason == "completed" and not outcome.stopped_early
    assert outcome.kept_step == kept_step and float(params["w"][0]) == kept_step
    saved = read_manifest(tmp_path / "best")  # what a stopped job would keep: the same evaluation
    assert saved.outcome is not None and saved.outcome.kept_step == kept_step


class _UnseenStarts:
    """The judge's confirmation, scripted: the verdict on unseen starts of the params kept at each step."""

    def __init__(self, up_by_step: dict[int, float]) -> None:
        self.up_by_step, self.calls = up_by_step, []

    def confirm(self, params: dict[str, np.ndarray]) -> object:
        step = int(params["w"][0])
        self.calls.append(step)
        return judge({"up": [self.up_by_step[step]] * 20}, {"up": 0.9}, {})


def test_a_kept_policy_that_fails_unseen_starts_is_replaced_by_the_next_that_passes(tmp_path: Path) -> None:
    from server.policies.manifest import read_manifest
    from server.training.runner import _BestKeeper

    keeper = _BestKeeper(tmp_path, _manifest(), early_stop_evals=1)
    unseen = _UnseenStarts({100: 0.6, 200: 0.95})
    # Step 100 passes its evaluation with the best score of the run, and the rule says done...
    assert keeper.offer({"w": np.full(2, 100.0, np.float32)}, _progress(100, 900.0, 0.99))
    confirmed = keeper.confirm(unseen)  # type: ignore[arg-type]
    assert confirmed is not None and not confirmed.passed
    assert keeper.confirm(unseen) is confirmed and unseen.calls == [100]  # judged once per checkpoint
    # ...but it failed elsewhere, so it ranks as failing: what a killed job keeps says so.
    saved = read_manifest(tmp_path / "best")
    assert saved.outcome is not None and saved.outcome.check is not None and not saved.outcome.check.passed
    # A later evaluation that passes with a lower score and reward replaces it, and is judged afresh.
    assert keeper.offer({"w": np.full(2, 200.0, np.float32)}, _progress(200, 500.0, 0.92))
    confirmed = keeper.confirm(unseen)  # type: ignore[arg-type]
    assert confirmed is not None and confirmed.passed and unseen.calls == [100, 200]
    params, outcome = keeper.result(None, [])
    assert outcome is not None and outcome.kept_step == 200 and float(params["w"][0]) == 200
