"""Which command a schedule asks for at a moment of simulated time."""

from __future__ import annotations

from server.commands.types import CommandSchedule, CommandSpec
from server.commands.validate import spec_keys

# step * ctrl_dt lands a hair below a segment boundary in floating point (0.1 * 3 < 0.3): a segment that
# ends within this of `t` has ended, so a boundary falls on the step a person would count.
_EPSILON_S = 1e-9


def segment_index_at(schedule: CommandSchedule, t_s: float) -> int:
    """The index of the segment playing at `t_s` seconds (the last one after the end unless `repeat`)."""
    total = sum(segment.duration_s for segment in schedule.segments)
    t = max(t_s, 0.0)
    if schedule.repeat and total > 0 and t + _EPSILON_S >= total:
        t = t % total
        if total - t <= _EPSILON_S:
            t = 0.0
    end = 0.0
    for i, segment in enumerate(schedule.segments):
        end += segment.duration_s
        if t + _EPSILON_S < end:
            return i
    return len(schedule.segments) - 1


def command_at(schedule: CommandSchedule, spec: CommandSpec, t_s: float) -> list[float]:
    """The command vector (in `spec` order, each value within its range; keys a segment leaves out: 0)
    that `schedule` asks for `t_s` seconds after the episode began."""
    segment = schedule.segments[segment_index_at(schedule, t_s)]
    values = []
    for j, key in enumerate(spec_keys(spec)):
        value = float(segment.command.get(key, 0.0))
        values.append(min(max(value, spec.low[j]), spec.high[j]))
    return values
