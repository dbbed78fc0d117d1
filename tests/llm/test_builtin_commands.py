"""The built-in drafter's sentence -> command schedule (the command tier), checked against Go1's range."""

from __future__ import annotations

import math

import pytest

from server.commands.types import CommandSpec
from server.commands.validate import check_schedule
from server.llm.builtin.commands import BRISK, FAST, NORMAL, SLOW, STEP_S, draft_schedule

GO1 = CommandSpec(
    names=["forward velocity", "sideways velocity", "turning velocity"],
    keys=["forward", "sideways", "turn"],
    units=["m/s", "m/s", "rad/s"],
    low=[-1.5, -0.8, -1.2],
    high=[1.5, 0.8, 1.2],
)
FWD, SIDE, TURN = 1.5, 0.8, 1.2  # Go1's limits

# sentence -> [(duration_s or None for "any"), command] per segment
CASES: list[tuple[str, list[tuple[float | None, dict[str, float]]]]] = [
    ("make the dog walk backwards", [(None, {"forward": -NORMAL * FWD})]),
    ("walk backwards slowly", [(None, {"forward": -SLOW * FWD})]),
    ("Walk forward.", [(None, {"forward": NORMAL * FWD})]),
    ("walk forward fast", [(None, {"forward": FAST * FWD})]),
    ("walk briskly forward", [(None, {"forward": BRISK * FWD})]),
    ("run", [(None, {"forward": FAST * FWD})]),
    ("walk forward at 0.5 m/s", [(None, {"forward": 0.5})]),
    ("go backwards at 1 m/s", [(None, {"forward": -1.0})]),
    ("walk left", [(None, {"sideways": NORMAL * SIDE})]),
    ("step to the right slowly", [(None, {"sideways": -SLOW * SIDE})]),
    ("walk sideways", [(None, {"sideways": NORMAL * SIDE})]),
    ("turn in place to the left", [(None, {"turn": NORMAL * TURN})]),
    ("turn right", [(None, {"turn": -NORMAL * TURN})]),
    ("spin clockwise for 2 seconds", [(2.0, {"turn": -NORMAL * TURN})]),
    ("rotate counterclockwise", [(None, {"turn": NORMAL * TURN})]),
    ("turn right while walking", [(None, {"forward": NORMAL * FWD, "turn": -NORMAL * TURN})]),
    ("walk forward while turning left", [(None, {"forward": NORMAL * FWD, "turn": NORMAL * TURN})]),
    ("walk in a circle", [(None, {"forward": NORMAL * FWD, "turn": NORMAL * TURN})]),
    ("turn at 0.5 rad/s for 4 seconds", [(4.0, {"turn": 0.5})]),
    ("turn 90 degrees left", [(math.pi / 2 / (NORMAL * TURN), {"turn": NORMAL * TURN})]),
    ("turn ninety degrees to the right", [(math.pi / 2 / (NORMAL * TURN), {"turn": -NORMAL * TURN})]),
    ("turn around", [(math.pi / (NORMAL * TURN), {"turn": NORMAL * TURN})]),
    ("do a quarter turn to the right", [(math.pi / 2 / (NORMAL * TURN), {"turn": -NORMAL * TURN})]),
    ("stop", [(None, {})]),
    ("stand still", [(None, {})]),
    ("stand still for 3 seconds", [(3.0, {})]),
    ("walk forward for 3 seconds", [(3.0, {"forward": NORMAL * FWD})]),
    ("walk forward for half a second", [(0.5, {"forward": NORMAL * FWD})]),
    ("walk forward two steps", [(2 * STEP_S, {"forward": NORMAL * FWD})]),
    ("take 4 steps backward", [(4 * STEP_S, {"forward": -NORMAL * FWD})]),
    ("walk 2 meters forward at 0.5 m/s", [(4.0, {"forward": 0.5})]),
    ("walk forward, slowly", [(None, {"forward": SLOW * FWD})]),
    (
        "walk forward two steps then turn right",
        [(2 * STEP_S, {"forward": NORMAL * FWD}), (None, {"turn": -NORMAL * TURN})],
    ),
    (
        "walk backwards slowly for 2 seconds, then stop",
        [(2.0, {"forward": -SLOW * FWD}), (None, {})],
    ),
    (
        "walk forward and then turn left 45 degrees, and then stop",
        [
            (None, {"forward": NORMAL * FWD}),
            (math.pi / 4 / (NORMAL * TURN), {"turn": NORMAL * TURN}),
            (None, {}),
        ],
    ),
    (
        "step left for 1 second; step right for 1 second. Then walk forward fast",
        [(1.0, {"sideways": NORMAL * SIDE}), (1.0, {"sideways": -NORMAL * SIDE}), (None, {"forward": FWD})],
    ),
    ("walk forward, after that walk backwards", [(None, {"forward": 0.9}), (None, {"forward": -0.9})]),
]


@pytest.mark.parametrize(("sentence", "expected"), CASES, ids=[c[0] for c in CASES])
def test_sentences_become_schedules(
    sentence: str, expected: list[tuple[float | None, dict[str, float]]]
) -> None:
    schedule = draft_schedule(sentence, GO1)
    assert schedule is not None
    got = [(segment.duration_s, segment.command) for segment in schedule.segments]
    assert len(got) == len(expected), got
    for (duration, command), (want_duration, want_command) in zip(got, expected, strict=True):
        assert command == pytest.approx(want_command, abs=1e-3), got
        assert duration > 0
        if want_duration is not None:
            assert duration == pytest.approx(want_duration, abs=1e-3), got
    report = check_schedule(schedule, GO1)
    assert report.ok and report.clipped == [], report


@pytest.mark.parametrize(
    "sentence",
    [
        "jump",
        "do a backflip",
        "stand up",
        "balance the pole",
        "walk on its hind legs",
        "walk forward, then jump",
        "sit down",
        "",
        "please",
        "make the robot look happy",
    ],
)
def test_sentences_that_are_not_velocity_commands_give_none(sentence: str) -> None:
    assert draft_schedule(sentence, GO1) is None


@pytest.mark.parametrize(
    ("sentence", "clip"),
    [
        ("run at 5 m/s", "forward 5 m/s is outside [-1.5, 1.5]: clipped to 1.5"),
        ("walk backwards at 3 m/s", "forward -3 m/s is outside [-1.5, 1.5]: clipped to -1.5"),
        ("walk left at 2 m/s", "sideways 2 m/s is outside [-0.8, 0.8]: clipped to 0.8"),
        ("turn right at 4 rad/s", "turn -4 rad/s is outside [-1.2, 1.2]: clipped to -1.2"),
    ],
)
def test_out_of_range_numbers_are_kept_for_the_check_to_clip_and_report(sentence: str, clip: str) -> None:
    schedule = draft_schedule(sentence, GO1)
    assert schedule is not None
    report = check_schedule(schedule, GO1)
    assert report.ok and len(report.clipped) == 1
    assert report.clipped[0].endswith(clip)
    assert sentence in report.clipped[0]  # the segment's label: the sentence's own words


def test_labels_are_the_sentences_own_words() -> None:
    schedule = draft_schedule("Walk forward two steps, then turn clockwise", GO1)
    assert schedule is not None
    assert [s.label for s in schedule.segments] == ["Walk forward two steps", "turn clockwise"]


def test_back_and_forth_repeats() -> None:
    schedule = draft_schedule("walk back and forth", GO1)
    assert schedule is not None and schedule.repeat
    assert [s.command for s in schedule.segments] == [{"forward": 0.9}, {"forward": -0.9}]


def test_a_long_hold_is_split_into_segments_within_the_limit() -> None:
    schedule = draft_schedule("walk forward for 3 minutes", GO1)
    assert schedule is not None
    assert sum(s.duration_s for s in schedule.segments) == pytest.approx(180.0)
    assert check_schedule(schedule, GO1).ok


def test_speeds_are_relative_to_the_scenes_range() -> None:
    slow_robot = CommandSpec(
        names=GO1.names, keys=GO1.keys, units=GO1.units, low=[-0.3, -0.2, -0.5], high=[0.6, 0.2, 0.5]
    )
    fast = draft_schedule("walk forward fast", slow_robot)
    back = draft_schedule("walk backwards fast", slow_robot)
    assert fast is not None and fast.segments[0].command == {"forward": 0.6}
    assert back is not None and back.segments[0].command == {"forward": -0.3}


def test_a_scene_without_the_needed_axis_gives_none() -> None:
    forward_only = CommandSpec(
        names=["forward velocity"], keys=["forward"], units=["m/s"], low=[-1], high=[1]
    )
    assert draft_schedule("turn left", forward_only) is None
    assert draft_schedule("walk forward", forward_only) is not None
    generic = CommandSpec(names=["command 1"], keys=["command_1"], low=[-1.0], high=[1.0])
    assert draft_schedule("walk forward", generic) is None
