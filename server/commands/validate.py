"""Checking a command schedule against a scene's CommandSpec, as a reward program is checked.

Unknown keys and non-finite values are errors (the schedule cannot play); a value outside the env's range
is clipped into it and each clip is reported in `ScheduleReport.clipped`, never done silently: the base
policy was trained on commands inside the range only, so what it does outside is undefined.
"""

from __future__ import annotations

import math

import msgspec

from server.commands.types import (
    MAX_SEGMENT_S,
    MAX_SEGMENTS,
    CommandSchedule,
    CommandSegment,
    CommandSpec,
    ScheduleReport,
)


class ScheduleDecodeError(ValueError):
    """Text that is not a command schedule; the message says what is wrong, for a person."""


_decoder = msgspec.json.Decoder(CommandSchedule)


def spec_keys(spec: CommandSpec) -> list[str]:
    """The schedule keys of `spec`'s components, in order (generic names when the spec has none)."""
    if len(spec.keys) == len(spec.low):
        return list(spec.keys)
    return [f"command_{i + 1}" for i in range(len(spec.low))]


def _num(value: float) -> str:
    return f"{value:g}"


def _unit(spec: CommandSpec, index: int) -> str:
    unit = spec.units[index] if index < len(spec.units) else ""
    return f" {unit}" if unit else ""


def _where(index: int, segment: CommandSegment) -> str:
    return f"segment {index + 1}" + (f" ({segment.label!r})" if segment.label else "")


def decode_schedule(data: bytes | str) -> CommandSchedule:
    """A schedule from its JSON text; ScheduleDecodeError says what is wrong with malformed input."""
    try:
        schedule: CommandSchedule = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise ScheduleDecodeError(f"not a command schedule: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ScheduleDecodeError(f"the command schedule is not valid JSON: {exc}") from exc
    return schedule


def check_schedule(schedule: CommandSchedule, spec: CommandSpec) -> ScheduleReport:
    """What `schedule` will play on a policy whose command is described by `spec` (clipped), or why not."""
    keys = spec_keys(spec)
    errors: list[str] = []
    clipped: list[str] = []
    segments: list[CommandSegment] = []
    # A schedule built in Python skips msgspec's decode-time constraints: check them again here.
    if not 1 <= len(schedule.segments) <= MAX_SEGMENTS:
        errors.append(f"a schedule has 1 to {MAX_SEGMENTS} segments, not {len(schedule.segments)}")
    for i, segment in enumerate(schedule.segments):
        where = _where(i, segment)
        if not (math.isfinite(segment.duration_s) and 0 < segment.duration_s <= MAX_SEGMENT_S):
            errors.append(
                f"{where}: duration_s {_num(segment.duration_s)} is not in (0, {_num(MAX_SEGMENT_S)}] seconds"
            )
        command: dict[str, float] = {}
        for key, value in segment.command.items():
            if key not in keys:
                errors.append(
                    f"{where}: unknown command key {key!r}; this scene's keys are {', '.join(keys)}"
                )
                continue
            if not math.isfinite(value):
                errors.append(f"{where}: {key} is {value}; a command value must be a finite number")
                continue
            j = keys.index(key)
            low, high = spec.low[j], spec.high[j]
            inside = min(max(value, low), high)
            if inside != value:
                unit = _unit(spec, j)
                clipped.append(
                    f"{where}: {key} {_num(value)}{unit} is outside [{_num(low)}, {_num(high)}]: "
                    f"clipped to {_num(inside)}"
                )
            command[key] = float(inside)
        segments.append(msgspec.structs.replace(segment, command=command))
    if errors:
        return ScheduleReport(ok=False, schedule=None, errors=errors, clipped=clipped)
    checked = CommandSchedule(segments=segments, repeat=schedule.repeat)
    total = sum(segment.duration_s for segment in segments)
    return ScheduleReport(ok=True, schedule=checked, clipped=clipped, duration_s=total)


def check_schedule_text(data: bytes | str, spec: CommandSpec) -> ScheduleReport:
    """decode_schedule then check_schedule, with a decode failure as the report's error."""
    try:
        schedule = decode_schedule(data)
    except ScheduleDecodeError as exc:
        return ScheduleReport(ok=False, schedule=None, errors=[str(exc)])
    return check_schedule(schedule, spec)
