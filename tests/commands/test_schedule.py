"""Command schedules: checking against a CommandSpec (errors, clipping), decoding, and command_at."""

from __future__ import annotations

import math

import pytest

from server.commands.schedule import command_at, segment_index_at
from server.commands.types import CommandSchedule, CommandSegment, CommandSpec
from server.commands.validate import (
    ScheduleDecodeError,
    check_schedule,
    check_schedule_text,
    decode_schedule,
)

GO1 = CommandSpec(
    names=["forward velocity", "sideways velocity", "turning velocity"],
    keys=["forward", "sideways", "turn"],
    units=["m/s", "m/s", "rad/s"],
    low=[-1.5, -0.8, -1.2],
    high=[1.5, 0.8, 1.2],
)


def seg(duration_s: float, label: str = "", **command: float) -> CommandSegment:
    return CommandSegment(duration_s=duration_s, command=command, label=label)


def test_a_schedule_inside_the_range_plays_as_written() -> None:
    schedule = CommandSchedule(segments=[seg(2.0, forward=0.5), seg(1.5, turn=-0.6)])
    report = check_schedule(schedule, GO1)
    assert report.ok and report.errors == [] and report.clipped == []
    assert report.schedule == schedule
    assert report.duration_s == pytest.approx(3.5)


def test_unknown_keys_are_errors_naming_the_valid_keys() -> None:
    report = check_schedule(CommandSchedule(segments=[seg(1.0, "spin", yaw=0.5)]), GO1)
    assert not report.ok and report.schedule is None
    assert len(report.errors) == 1
    assert "'yaw'" in report.errors[0] and "forward, sideways, turn" in report.errors[0]
    assert "segment 1 ('spin')" in report.errors[0]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_errors(value: float) -> None:
    report = check_schedule(CommandSchedule(segments=[seg(1.0, forward=value)]), GO1)
    assert not report.ok
    assert "finite" in report.errors[0]


@pytest.mark.parametrize(
    ("value", "kept", "note"),
    [
        (-2.0, -1.5, "forward -2 m/s is outside [-1.5, 1.5]: clipped to -1.5"),
        (5.0, 1.5, "forward 5 m/s is outside [-1.5, 1.5]: clipped to 1.5"),
    ],
)
def test_out_of_range_values_are_clipped_and_reported(value: float, kept: float, note: str) -> None:
    report = check_schedule(CommandSchedule(segments=[seg(1.0, forward=value, turn=0.3)]), GO1)
    assert report.ok and report.schedule is not None
    assert report.schedule.segments[0].command == {"forward": kept, "turn": 0.3}
    assert report.clipped == [f"segment 1: {note}"]


def test_bad_durations_built_in_python_are_errors() -> None:
    for duration in (0.0, -1.0, math.nan, 500.0):
        report = check_schedule(CommandSchedule(segments=[seg(duration, forward=0.5)]), GO1)
        assert not report.ok and "duration_s" in report.errors[0]
    assert not check_schedule(CommandSchedule(segments=[]), GO1).ok


def test_decode_reads_json_and_says_what_is_wrong() -> None:
    text = '{"segments": [{"duration_s": 2, "command": {"forward": 0.4}, "label": "walk"}]}'
    assert decode_schedule(text) == CommandSchedule(segments=[seg(2.0, "walk", forward=0.4)])
    assert decode_schedule(text.encode()) == decode_schedule(text)
    with pytest.raises(ScheduleDecodeError, match="not valid JSON"):
        decode_schedule("{segments: [")
    with pytest.raises(ScheduleDecodeError, match=r"not a command schedule.*duration_s"):
        decode_schedule('{"segments": [{"command": {}}]}')
    with pytest.raises(ScheduleDecodeError, match="not a command schedule"):
        decode_schedule('{"segments": [], "speed": 3}')
    with pytest.raises(ScheduleDecodeError, match="not a command schedule"):
        decode_schedule('{"segments": [{"duration_s": -1, "command": {}}]}')
    report = check_schedule_text("nonsense", GO1)
    assert not report.ok and "not valid JSON" in report.errors[0]


def test_command_at_follows_the_segments_then_holds_the_last() -> None:
    schedule = CommandSchedule(segments=[seg(1.0, forward=0.5), seg(0.5, turn=1.0), seg(1.0, sideways=-0.3)])
    assert command_at(schedule, GO1, 0.0) == [0.5, 0.0, 0.0]
    assert command_at(schedule, GO1, 0.98) == [0.5, 0.0, 0.0]
    assert command_at(schedule, GO1, 1.0) == [0.0, 0.0, 1.0]
    assert command_at(schedule, GO1, 1.49) == [0.0, 0.0, 1.0]
    assert command_at(schedule, GO1, 1.5) == [0.0, -0.3, 0.0]
    assert command_at(schedule, GO1, 100.0) == [0.0, -0.3, 0.0]


def test_boundaries_fall_on_the_step_a_person_counts() -> None:
    # 0.1 s segments at ctrl_dt 0.02: step * 0.02 lands a hair off the boundary in floating point.
    schedule = CommandSchedule(segments=[seg(0.1, forward=1.0), seg(0.1, forward=-1.0), seg(0.1)])
    got = [segment_index_at(schedule, step * 0.02) for step in range(16)]
    assert got == [0] * 5 + [1] * 5 + [2] * 6


def test_repeat_wraps_around() -> None:
    schedule = CommandSchedule(segments=[seg(1.0, turn=0.5), seg(1.0, turn=-0.5)], repeat=True)
    assert command_at(schedule, GO1, 2.0) == [0.0, 0.0, 0.5]
    assert command_at(schedule, GO1, 3.25) == [0.0, 0.0, -0.5]
    assert [segment_index_at(schedule, step * 0.1) for step in range(41)][::5] == [0, 0, 1, 1, 0, 0, 1, 1, 0]


def test_command_at_keeps_values_inside_the_range() -> None:
    unchecked = CommandSchedule(segments=[seg(1.0, forward=9.0, turn=-9.0)])
    assert command_at(unchecked, GO1, 0.0) == [1.5, 0.0, -1.2]
