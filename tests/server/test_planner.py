"""The tier planner (server/planning/plan.py): which of command, fine-tuning and full training runs, for
each time budget, scene kind (joystick or not), bases present or absent, and a forced tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.commands.types import CommandSpec
from server.planning.plan import TierUnavailable, pick_base, plan_tiers
from server.policies.library import PolicySummary
from server.scenes.types import SceneInfo
from server.training.presets import COMMAND_SECONDS, FINE_TUNE_FRACTION, default_steps

GO1_COMMAND = CommandSpec(
    names=["forward velocity", "sideways velocity", "turn rate"],
    low=[-1.5, -0.8, -1.2],
    high=[1.5, 0.8, 1.2],
    keys=["forward", "sideways", "turn"],
    units=["m/s", "m/s", "rad/s"],
)


def scene(scene_id: str, *, joystick: bool) -> SceneInfo:
    return SceneInfo(
        id=scene_id, name=scene_id, family="locomotion" if joystick else "classic_control",
        robot="Unitree Go1" if joystick else "Cartpole", kind="quadruped" if joystick else "cartpole",
        examples=[], num_actuators=12, action_size=12, observation_size={"state": [48]}, ctrl_dt=0.02,
        sim_dt=0.004, n_substeps=5, keyframes=[], model_bytes=1, model_sha256="0", mujoco_version="0",
        command=GO1_COMMAND if joystick else None,
    )  # fmt: skip


GO1 = scene("Go1JoystickFlatTerrain", joystick=True)
CARTPOLE = scene("CartpoleBalance", joystick=False)
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def base(scene_id: str, kind: str | None, policy_id: str, age_h: float = 0.0) -> PolicySummary:
    return PolicySummary(
        id=policy_id, name=f"base {policy_id[:2]}", scene_id=scene_id, task="", final_eval_reward=None,
        created_at=NOW - timedelta(hours=age_h), base=kind,  # type: ignore[arg-type]
    )  # fmt: skip


def bases_for(s: SceneInfo, present: bool) -> list[PolicySummary]:
    other = [base("CheetahRun", "shipped", "c" * 32), base(s.id, None, "d" * 32)]  # not usable here
    return [*other, base(s.id, "user", "a" * 32)] if present else other


# (scene, sentence is a command, bases present, budget) -> chosen tier
CASES = [
    (GO1, True, True, "fast", "command"),
    (GO1, True, True, "medium", "fine_tuning"),
    (GO1, True, True, "unlimited", "full_training"),
    (GO1, False, True, "fast", "fine_tuning"),  # not a command sentence: the cheapest left
    (GO1, True, False, "fast", "full_training"),
    (GO1, True, False, "medium", "full_training"),
    (GO1, True, False, "unlimited", "full_training"),
    (CARTPOLE, True, True, "fast", "fine_tuning"),  # no command spec: never the command tier
    (CARTPOLE, False, True, "medium", "fine_tuning"),
    (CARTPOLE, False, True, "unlimited", "full_training"),
    (CARTPOLE, False, False, "fast", "full_training"),
    (CARTPOLE, False, False, "medium", "full_training"),
]


@pytest.mark.parametrize(("s", "command", "present", "budget", "expected"), CASES)
def test_budget_picks_the_tier(
    s: SceneInfo, command: bool, present: bool, budget: str, expected: str
) -> None:
    chosen, options, base_policy = plan_tiers(
        s,
        schedule_possible=command,
        bases=bases_for(s, present),
        device="cpu",
        budget=budget,  # type: ignore[arg-type]
    )
    assert chosen.method == expected
    assert [o.method for o in options] == ["command", "fine_tuning", "full_training"]
    assert chosen.available
    assert base_policy == ("a" * 32 if expected != "full_training" else None)
    by = {o.method: o for o in options}
    assert by["full_training"].available and by["full_training"].estimate_s
    assert by["fine_tuning"].available is present
    assert by["command"].available is (present and command and s.command is not None)
    for option in options:  # unavailable ones say why and how; available ones have an estimate
        assert (option.estimate_s is None) is (not option.available)
        assert bool(option.unavailable_reason) is (not option.available)
    if present:
        assert by["command"].estimate_s in (COMMAND_SECONDS, None)
        tune = by["fine_tuning"]
        assert tune.timesteps == int(default_steps("cpu", s.family, s.id) * FINE_TUNE_FRACTION)
        full = by["full_training"].estimate_s
        assert tune.estimate_s is not None and full is not None and tune.estimate_s < full
    else:
        assert "Prepare a base policy for" in by["fine_tuning"].unavailable_reason


@pytest.mark.parametrize("present", [True, False])
@pytest.mark.parametrize("method", ["command", "fine_tuning", "full_training"])
@pytest.mark.parametrize("s", [GO1, CARTPOLE])
def test_override(s: SceneInfo, method: str, present: bool) -> None:
    available = method == "full_training" or (present and (method == "fine_tuning" or s.command is not None))

    def plan() -> object:
        return plan_tiers(
            s,
            schedule_possible=True,
            bases=bases_for(s, present),
            budget="unlimited",
            override=method,  # type: ignore[arg-type]
        )

    if available:
        chosen = plan_tiers(
            s,
            schedule_possible=True,
            bases=bases_for(s, present),
            override=method,  # type: ignore[arg-type]
        )[0]
        assert chosen.method == method
        return
    with pytest.raises(TierUnavailable) as raised:
        plan()
    message = str(raised.value)
    if s.command is None and method == "command":
        assert "takes no commands" in message
    else:
        assert f"Prepare a base policy for {s.id} (Library > Prepare)" in message
        assert "scripts/build_bases.py" in message


def test_not_a_command_sentence_says_so() -> None:
    with pytest.raises(TierUnavailable, match="does not read as a motion command"):
        plan_tiers(GO1, schedule_possible=False, bases=bases_for(GO1, True), override="command")


def test_base_choice_prefers_shipped_then_newest_and_matches_the_scene() -> None:
    old, new = base(GO1.id, "user", "1" * 32, age_h=5), base(GO1.id, "user", "2" * 32, age_h=1)
    shipped = base(GO1.id, "shipped", "3" * 32, age_h=100)
    assert pick_base(GO1, [old, new]) == new
    assert pick_base(GO1, [old, shipped, new]) == shipped
    assert pick_base(GO1, [base("Go1JoystickRoughTerrain", "shipped", "4" * 32)]) is None
    assert pick_base(GO1, [base(GO1.id, None, "5" * 32)]) is None


def test_gpu_estimates_are_shorter_and_say_gpu() -> None:
    _, cpu, _ = plan_tiers(GO1, schedule_possible=True, bases=bases_for(GO1, True), device="cpu")
    _, gpu, _ = plan_tiers(GO1, schedule_possible=True, bases=bases_for(GO1, True), device="gpu")
    assert "GPU" in gpu[2].estimate and "CPU" in cpu[2].estimate
    assert gpu[2].estimate_s is not None and cpu[2].estimate_s is not None
    assert gpu[2].estimate_s < cpu[2].estimate_s


def test_the_fine_tune_option_says_what_follows_a_failed_fine_tune() -> None:
    _, options, _ = plan_tiers(
        CARTPOLE, schedule_possible=False, bases=[base("CartpoleBalance", "user", "b" * 32)]
    )
    fine = next(o for o in options if o.method == "fine_tuning")
    assert fine.summary.endswith(
        "should it fail its check, the next rounds train from scratch (or continue it, if it nearly passed)"
    )


def test_a_scene_the_cpu_budget_has_not_learned_says_so_on_a_cpu_only() -> None:
    acrobot = scene("AcrobotSwingup", joystick=False)
    _, cpu, _ = plan_tiers(acrobot, schedule_possible=False, bases=[], device="cpu")
    _, gpu, _ = plan_tiers(acrobot, schedule_possible=False, bases=[], device="gpu")
    assert "has not learned the swing-up" in cpu[2].estimate and "GPU or Modal" in cpu[2].estimate
    assert "has not learned" not in gpu[2].estimate
    _, cartpole, _ = plan_tiers(CARTPOLE, schedule_possible=False, bases=[], device="cpu")
    assert "has not learned" not in cartpole[2].estimate


def test_estimates_read_in_seconds_under_a_minute_and_a_half() -> None:
    from server.training.presets import duration_text

    # 84 s was "about 1 minute": a fine-tune that took 94 s looked 1.6x late.
    assert [duration_text(s) for s in (0.2, 84, 89.6, 91, 150, 3599, 3700, 9000)] == [
        "about 1 second", "about 84 seconds", "about 90 seconds", "about 2 minutes", "about 2 minutes",
        "about 60 minutes", "about 1 hour", "about 2.5 hours",
    ]  # fmt: skip


def test_a_base_that_fails_the_check_from_every_start_is_skipped_by_fast() -> None:
    from server.checks.types import CheckResult

    def judged(passed: int) -> CheckResult:
        return CheckResult(
            passed=passed == 10, episodes=10, passed_episodes=passed, score=passed / 10, figures=[],
            summary=f"cart offset, {passed}/10",
        )  # fmt: skip

    bases = bases_for(CARTPOLE, True)
    none = judged(0)
    chosen, options, base_id = plan_tiers(CARTPOLE, schedule_possible=False, bases=bases, base_check=none)
    assert (chosen.method, base_id) == ("full_training", None)
    assert options[1].available and "does none of this task" in options[1].summary
    assert "cart offset, 0/10" in options[1].summary
    medium, _, _ = plan_tiers(
        CARTPOLE, schedule_possible=False, bases=bases, budget="medium", base_check=none
    )
    assert medium.method == "fine_tuning"
    for passed in (1, 10):
        some, _, _ = plan_tiers(CARTPOLE, schedule_possible=False, bases=bases, base_check=judged(passed))
        assert some.method == "fine_tuning"
        assert f"passes the check from {passed} of 10 starts" in some.summary
    # Without a judgement the plan is as before.
    plain, _, _ = plan_tiers(CARTPOLE, schedule_possible=False, bases=bases)
    assert plain.method == "fine_tuning" and "starts" not in plain.summary.split("scratch")[-1]
