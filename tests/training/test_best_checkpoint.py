"""Keeping the best evaluation, early stop and the check during real (tiny) training on CartpoleBalance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from server.checks.verdict import judge
from server.policies.manifest import NetworkConfig, PolicyManifest
from server.training.types import JobSpec, TrainingProgress
from tests.training.test_runner import PROGRAM, cache, quick, trained  # noqa: F401 (fixtures)

ALWAYS_INSIDE = '''"""The cart stays within 100 m: true of any policy, so the check passes at once."""

AT_MOST = dict(travel=100.0)


def travel(s):
    return jnp.max(jnp.abs(s.cart_position))


def upright(s):
    return jnp.mean(jnp.abs(s.pole_angle) < 0.31)
'''
NEVER = ALWAYS_INSIDE.replace("AT_MOST = dict(travel=100.0)", "AT_LEAST = dict(upright=1.5)")


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


def _train(spec: JobSpec, cache: Path, work: Path) -> tuple[PolicyManifest, list[TrainingProgress]]:  # noqa: F811
    from server.training.runner import train

    reports: list[TrainingProgress] = []
    return train(spec, scene_cache_dir=cache, work_dir=work, report=reports.append), reports


def test_a_passing_check_stops_the_job_early(
    trained: tuple[Path, PolicyManifest, list[TrainingProgress]],  # noqa: F811
    cache: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A fine-tune whose base already passes stops after its first evaluation (step 0)."""
    from server.training.runner import train

    spec = quick(check=ALWAYS_INSIDE, early_stop_evals=1, base_policy_id=trained[1].policy_id)
    reports: list[TrainingProgress] = []
    manifest = train(
        spec,
        scene_cache_dir=cache,
        work_dir=tmp_path,
        report=reports.append,
        base_params_dir=trained[0] / "policy",
    )
    assert len(reports) == 1 and reports[0].step == 0  # stopped after the first evaluation
    check = reports[0].check
    assert check is not None and check.passed and check.episodes == 5
    assert [f.name for f in check.figures] == ["travel", "upright"]
    assert manifest.outcome is not None and manifest.outcome.stop_reason == "check_passed"
    assert manifest.outcome.stopped_early and manifest.check == ALWAYS_INSIDE


def test_a_failing_check_still_saves_its_best_marked_failed(cache: Path, tmp_path: Path) -> None:  # noqa: F811
    manifest, reports = _train(quick(check=NEVER), cache, tmp_path)
    # brax's first evaluation (step 0) comes before a fresh job has params: it is judged from step 1 on.
    assert len(reports) == 2 and reports[0].check is None
    assert reports[1].check is not None and not reports[1].check.passed
    assert manifest.outcome is not None and manifest.outcome.check is not None
    assert not manifest.outcome.check.passed and manifest.outcome.stop_reason == "completed"
    assert manifest.outcome.check.summary.startswith("failed: upright")
    assert (tmp_path / "policy" / "params.msgpack").is_file()


def test_an_invalid_check_fails_the_job_with_its_located_error(cache: Path, tmp_path: Path) -> None:  # noqa: F811
    from server.training.runner import TrainingFailed

    with pytest.raises(TrainingFailed, match=r"success check was rejected.*line 1"):
        _train(quick(check="AT_LEAST = dict(x=1)\ndef x(s):\n    return 1.0\n"), cache, tmp_path)
