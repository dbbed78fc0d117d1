"""Reflection rounds (server/planning/reflection.py): which spec follows a job whose kept policy failed its
check. A near miss is continued as a fine-tune of the kept policy; anything else trains from scratch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from server.checks.types import CheckResult, FigureResult
from server.checks.verdict import judge, near_miss
from server.llm.service import Revision
from server.planning.reflection import Reflector, next_round
from server.rewards.types import ValidationReport, Vocabulary, VocabularyEntry
from server.training.presets import FINE_TUNE_FRACTION
from server.training.types import BackendName, JobSpec, JobStatus, TrainingProgress
from tests.policies.helpers import PROGRAM
from tests.training.fake_worker import manifest_for

CHECK = "AT_MOST = dict(cart_offset=0.25)\n"  # the text is carried along; the verdicts below are judged here


def swing_up(offsets: list[float], upright: list[float]) -> CheckResult:
    """The centred swing-up's check over episodes: the pole up for >= 90% of the second half, the cart's
    mean within 0.25 m of the middle."""
    return judge({"upright": upright, "cart_offset": offsets}, {"upright": 0.9}, {"cart_offset": 0.25})


def test_a_near_miss_is_every_failing_figure_within_reach_of_its_requirement() -> None:
    # Session 26's first round: balanced, 0.27 m off the middle against 0.25.
    assert near_miss(swing_up([0.27] * 10, [1.0] * 10))
    # One start of twenty short, the mean well past the requirement: close too.
    assert near_miss(judge({"speed": [7.5] * 9 + [4.8]}, {"speed": 6.4}, {}))
    # The base for a cart asked at the left: 0.63 m from it against 0.3. Far.
    assert not near_miss(swing_up([0.63] * 10, [1.0] * 10))
    # Close on the cart but the pole never came up: far.
    assert not near_miss(swing_up([0.26] * 10, [0.1] * 10))
    # Passing is not a miss; a check that could not be computed is not close.
    assert not near_miss(swing_up([0.1] * 10, [1.0] * 10))
    assert not near_miss(swing_up([float("nan")] * 10, [1.0] * 10))
    # A requirement at zero has no scale to be close to.
    assert not near_miss(judge({"drift": [0.01] * 10}, {}, {"drift": 0.0}))


def test_a_failed_fine_tune_round_trains_from_scratch_next() -> None:
    tune = JobSpec(
        scene_id="CartpoleBalance", program="p0", check="c0", timesteps=1_000_000, base_policy_id="base-1"
    )
    after = next_round(tune, "job-1", "p1", "c1", ["raised 'upright'"], 1.5, 1_032_192)
    assert after.base_policy_id is None and after.timesteps is None  # the preset's full budget
    assert (after.program, after.check, after.parent_job_id, after.round) == ("p1", "c1", "job-1", 1)
    assert "base-1" in after.revision_notes[0] and after.revision_notes[1] == "raised 'upright'"
    # A round from scratch stays from scratch; a longer budget is asked of the steps it really ran.
    again = next_round(after, "job-2", "p2", "c2", ["longer"], 1.5, 4_128_768)
    assert again.base_policy_id is None and again.timesteps == 6_193_152
    assert again.revision_notes == ["longer"] and again.round == 2


def test_a_continued_round_fine_tunes_the_kept_policy_for_a_share_of_the_steps_run() -> None:
    first = JobSpec(scene_id="CartpoleSwingup", program="p0", check="c0")
    after = next_round(
        first, "job-1", "p1", "c1", ["raised 'centered'"], 1.0, 6_045_696, continue_from="kept-1"
    )
    assert after.base_policy_id == "kept-1" and after.timesteps == round(6_045_696 * FINE_TUNE_FRACTION)
    assert (after.program, after.parent_job_id, after.round) == ("p1", "job-1", 1)
    assert "nearly passed" in after.revision_notes[0] and after.revision_notes[1] == "raised 'centered'"
    # A longer budget asked by the revision lengthens the continuation too.
    longer = next_round(first, "job-1", "p1", "c1", [], 1.5, 4_000_000, continue_from="kept-1")
    assert longer.timesteps == 1_500_000
    # A continued round that fails again and is a near miss again continues its own kept policy.
    again = next_round(after, "job-2", "p2", "c2", [], 1.0, 1_511_424, continue_from="kept-2")
    assert again.base_policy_id == "kept-2" and again.timesteps == 377_856 and again.round == 2


class _Rewards:
    async def vocabulary(self, scene_id: str) -> Vocabulary:
        entry = VocabularyEntry(name="pole_angle", shape=[], description="rad")
        return Vocabulary(scene_id=scene_id, entries=[entry], helpers=[], jnp_functions=[])

    async def validate(self, scene_id: str, program: str) -> ValidationReport:
        raise AssertionError("the fake LLM service does not validate")

    validate_check = validate


class _Llm:
    async def revise(self, *args: Any, **kwargs: Any) -> Revision:
        ok = ValidationReport(ok=True, errors=[], terms=[])
        return Revision(
            program=PROGRAM.replace("1.0", "1.5"), check=CHECK, provider="builtin", model="builtin",
            attempts=0, timesteps_factor=1.0, notes=["raised 'upright'"], report=ok, check_report=ok,
        )  # fmt: skip


def _failed_job(result: CheckResult, backend: BackendName) -> tuple[JobStatus, Any]:
    spec = JobSpec(scene_id="CartpoleSwingup", program=PROGRAM, check=CHECK, task_description="t")
    kept = TrainingProgress(
        step=4_000_000, total_steps=4_000_000, eval_reward=800.0, reward_terms={"upright": 800.0},
        task_reward=700.0, steps_per_second=20_000.0, elapsed_s=200.0, eta_s=0.0, check=result,
    )  # fmt: skip
    manifest = msgspec.structs.replace(manifest_for(spec, b"params", [kept]), policy_id="kept-1")
    now = datetime.now(UTC)
    status = JobStatus(
        job_id="job-1", state="succeeded", spec=spec, device="cpu", created_at=now, started_at=now,
        finished_at=now, progress=kept, history=[kept], error=None, policy_id=None, resumable=False,
        backend=backend,
    )  # fmt: skip
    return status, manifest


@pytest.mark.parametrize(
    ("offsets", "backend", "continued"),
    [
        ([0.27] * 10, "local", True),  # a near miss on this computer: continued
        ([0.63] * 10, "local", False),  # far: from scratch
        ([0.27] * 10, "modal", False),  # a Modal job's round stays a Modal job from scratch
    ],
)
def test_the_reflector_continues_only_a_near_miss_trained_here(
    offsets: list[float], backend: BackendName, continued: bool
) -> None:
    status, manifest = _failed_job(swing_up(offsets, [1.0] * 10), backend)
    reflector = Reflector(_Rewards(), _Llm())  # type: ignore[arg-type]
    spec = asyncio.run(reflector(status, manifest))
    assert spec is not None and spec.round == 1 and spec.parent_job_id == "job-1"
    if continued:
        assert spec.base_policy_id == "kept-1" and spec.timesteps == 1_000_000
    else:
        assert spec.base_policy_id is None and spec.timesteps is None


def test_a_failing_figure_keeps_its_mean_and_worst() -> None:
    # What near_miss reads: the mean over episodes, not the worst one.
    result = swing_up([0.2] * 9 + [0.4], [1.0] * 10)
    offset = next(f for f in result.figures if f.name == "cart_offset")
    assert offset == FigureResult(
        name="cart_offset", mean=pytest.approx(0.22), worst=0.4, at_least=None, at_most=0.25, met=9
    )
    assert near_miss(result)
