"""What a command schedule is: timed segments of a joystick env's command vector.

A joystick scene's policy follows a command (Playground keeps it in `state.info["command"]`); a schedule
says which command to hold for how long, so a sentence ("walk backwards slowly, then turn left") plays on a
base policy with no training. Segments name the command's components by `CommandSpec.keys`; a component a
segment leaves out is 0 (stand still on that axis).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

MAX_SEGMENTS = 32
MAX_SEGMENT_S = 120.0


class CommandSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What a joystick env's command means: one entry per component, in order."""

    names: list[str]  # for people, e.g. "forward velocity"
    low: list[float]
    high: list[float]
    # For programs and schedules, e.g. "forward"; the same order as `names`.
    keys: list[str] = msgspec.field(default_factory=list)
    units: list[str] = msgspec.field(default_factory=list)  # e.g. "m/s", "rad/s"


class CommandSegment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Hold `command` for `duration_s` seconds of simulated time."""

    duration_s: Annotated[float, msgspec.Meta(gt=0, le=MAX_SEGMENT_S)]
    command: dict[Annotated[str, msgspec.Meta(max_length=40)], float]  # by CommandSpec.keys; missing: 0
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""  # what this part of the sentence asked


class CommandSchedule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The segments in order; after the last one the schedule starts again when `repeat`, else the last
    segment's command is held."""

    segments: Annotated[list[CommandSegment], msgspec.Meta(min_length=1, max_length=MAX_SEGMENTS)]
    repeat: bool = False


class ScheduleReport(msgspec.Struct, frozen=True, kw_only=True):
    """A schedule checked against a scene's CommandSpec: `schedule` is what will play (values clipped into
    range), `clipped` says what was changed and why, `errors` why it cannot play (then `schedule` is None)."""

    ok: bool
    schedule: CommandSchedule | None
    errors: list[str] = msgspec.field(default_factory=list)
    clipped: list[str] = msgspec.field(default_factory=list)
    duration_s: float = 0.0
