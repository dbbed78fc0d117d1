"""The built-in drafter for the command tier: a sentence -> a CommandSchedule, with plain rules (no LLM).

It reads a sentence as clauses in order ("walk forward two steps, then turn right"; split at commas,
"then", "and", "after that", ...), and each clause as one segment: a direction (forward, backward,
left, right, sideways), a speed (a number in m/s, or a word: slowly ~30% of the range, normally ~60%,
briskly ~80%, fast ~100%), turning (in place, or while walking; by a number of degrees at the turn rate),
stopping, and how long (seconds, minutes, a number of steps at ~0.5 s each, or a distance at the speed).
Numbers outside the scene's range are kept as written: check_schedule clips them and says so.

A sentence that asks for something a velocity command cannot express (jump, flip, sit, ...) or no motion at
all gives None: the planner then picks another tier.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from server.commands.types import MAX_SEGMENT_S, MAX_SEGMENTS, CommandSchedule, CommandSegment, CommandSpec

SLOW, NORMAL, BRISK, FAST = 0.3, 0.6, 0.8, 1.0  # fractions of the range's limit in that direction
STEP_S = 0.5  # about one step of a walking quadruped or humanoid
DEFAULT_MOVE_S = 2.0  # a clause that says not how long (the last segment is held anyway)
DEFAULT_STOP_S = 1.0
FORWARD, SIDEWAYS, TURN = "forward", "sideways", "turn"

_NUM = r"(\d+(?:\.\d+)?)"
_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "ninety": "90",
}
# Phrases rewritten to digits and plain words before the rules read a clause.
_REWRITES = (
    (r"\ba couple of\b", "2"),
    (r"\ba few\b", "3"),
    (r"\bhalf an? (second|sec|meter|metre|step|minute)\b", r"0.5 \1"),
    (r"\b(?:a|an|one) (second|sec|meter|metre|step|minute)\b", r"1 \1"),
    (r"\b(?:a )?quarter turn\b", "turn 90 degrees"),
    (r"\b(?:a )?half turn\b", "turn 180 degrees"),
    (r"\b(?:a )?(?:full turn|full circle|complete turn|360)\b(?! ?deg)", "turn 360 degrees"),
    (r"\bturn(?:s|ing)? around\b", "turn 180 degrees"),
    (r"\bu-?turn\b", "turn 180 degrees"),
    (r"\b(anti-?clockwise|counter-?clockwise)\b", "left"),
    (r"\bclockwise\b", "right"),
    (r"°", " degrees"),
    (r"\bback and forth\b", "forward 1 second, backward 1 second, repeat"),
)
_SPLIT = re.compile(
    r"\s*(?:[,;]|\.(?:\s|$)|\band then\b|\bthen\b|\bafter that\b|\bafterwards\b|\bfollowed by\b"
    r"|\bfinally\b|(?<!back )\band\b(?! forth\b)|\bbefore\b)\s*",
    re.IGNORECASE,
)
_NOT_COMMANDS = {
    "jump", "jumps", "jumping", "hop", "hops", "hopping", "leap", "flip", "flips", "backflip", "somersault",
    "sit", "sits", "lie", "lay", "kneel", "crouch", "roll", "rolls", "handstand", "kick", "kicks", "wave",
    "climb", "balance", "dance", "pick", "push", "grab", "lift", "raise", "bow", "stretch", "shake",
    "swim", "fly", "reach", "upright", "pole", "cart", "swing", "hind", "height", "tall", "crawl",
}  # fmt: skip
_MOVE_WORDS = {
    "walk", "walks", "walking", "move", "moves", "moving", "go", "goes", "going", "run", "runs", "running",
    "trot", "trots", "trotting", "jog", "jogging", "step", "steps", "stepping", "stroll", "march",
    "marching", "sprint", "sprinting", "advance", "head", "creep", "strafe", "sidestep", "shuffle",
    "forward", "forwards", "ahead", "backward", "backwards", "back", "reverse", "sideways", "straight",
    "circle", "circles",
}  # fmt: skip
_TURN_WORDS = {
    "turn",
    "turns",
    "turning",
    "rotate",
    "rotates",
    "rotating",
    "spin",
    "spins",
    "spinning",
    "pivot",
}
_STOP = re.compile(
    r"\b(stop|stops|halt|freeze|pause|rest|wait|stand still|stay still|stay put|stay in place|"
    r"stand in place|keep still|hold still|be still|don'?t move|remain still)\b"
)
_SPEED_WORDS = (
    (
        FAST,
        {"fast", "quickly", "quick", "rapidly", "sprint", "sprinting", "run", "running", "runs", "fastest"},
    ),
    (BRISK, {"briskly", "brisk", "jog", "jogging", "trot", "trotting", "hurry", "faster"}),
    (SLOW, {"slowly", "slow", "gently", "carefully", "creep", "stroll", "leisurely", "slower", "tiptoe"}),
)
_BACK = re.compile(r"\b(back up|step back|steps back|walk back|go back|move back)\b")
_REPEAT = re.compile(r"\b(repeat|repeatedly|over and over|again and again|in a loop|forever|keep doing)\b")


@dataclass
class _Clause:
    text: str
    forward: float | None = None  # sign of the motion along each axis, or a number in its unit
    sideways: float | None = None
    turn: float | None = None
    duration_s: float | None = None
    stop: bool = False

    @property
    def moves(self) -> bool:
        return self.stop or any(v is not None for v in (self.forward, self.sideways, self.turn))


def _normalise(sentence: str) -> str:
    text = sentence.lower().replace("\u2019", "'")  # a typographic apostrophe
    text = re.sub(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", lambda m: _NUMBER_WORDS[m.group(1)], text)
    for pattern, replacement in _REWRITES:
        text = re.sub(pattern, replacement, text)
    return " ".join(text.split())


def _limit(spec: CommandSpec, key: str, sign: float) -> float:
    """The largest command magnitude the range allows for `key` in the direction `sign`."""
    i = spec.keys.index(key)
    return abs(spec.high[i]) if sign > 0 else abs(spec.low[i])


def _speed_fraction(words: set[str]) -> float:
    for fraction, vocabulary in _SPEED_WORDS:
        if words & vocabulary:
            return fraction
    return NORMAL


def _read_clause(text: str) -> _Clause | None:
    """One clause's motion, or None when it asks for something a command cannot express."""
    words = set(re.findall(r"[a-z']+", text))
    clause = _Clause(text=text)
    if words & _NOT_COMMANDS:
        return None
    stop = bool(_STOP.search(text))
    turning = bool(words & _TURN_WORDS) or bool(re.search(r"\b(in a )?circles?\b", text))
    side = "left" if "left" in words else "right" if "right" in words else None
    walking = bool(words & _MOVE_WORDS) and not (words & _MOVE_WORDS <= {"circle", "circles"})
    in_place = bool(re.search(r"\b(in place|on the spot)\b", text))
    # Linear direction: forward/backward words, else sideways when left/right belongs to the walk.
    if words & {"backward", "backwards", "reverse"} or _BACK.search(text):
        clause.forward = -1.0
    elif words & {"forward", "forwards", "ahead", "straight"}:
        clause.forward = 1.0
    if "sideways" in words or words & {"strafe", "sidestep", "shuffle"} or (side and walking and not turning):
        clause.sideways = -1.0 if side == "right" else 1.0
    if turning:
        clause.turn = -1.0 if side == "right" else 1.0  # no side given: left (positive yaw)
        # "turn right while walking", "walk in a circle": forward too, unless it is in place.
        along = re.search(r"\b(while|as it|as you|circles?)\b", text) or words & _MOVE_WORDS - {
            "circle",
            "circles",
            "step",
            "steps",
        }
        if clause.forward is None and clause.sideways is None and not in_place and along:
            clause.forward = 1.0
    elif clause.forward is None and clause.sideways is None and walking and not stop:
        clause.forward = 1.0
    if stop and clause.forward is None and clause.sideways is None and clause.turn is None:
        clause.stop = True
    return clause


def _number(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def _command(clause: _Clause, spec: CommandSpec) -> tuple[dict[str, float], float] | None:
    """The clause as a command of `spec` and how long to hold it, or None when the spec lacks an axis
    the clause needs or the clause moves nothing."""
    text = clause.text
    words = set(re.findall(r"[a-z']+", text))
    fraction = _speed_fraction(words)
    command: dict[str, float] = {}
    speed_mps = _number(_NUM + r"\s*(?:m/s|mps|meters? per second|metres? per second)", text)
    rate = _number(_NUM + r"\s*(?:rad/s|radians? per second)", text)
    if rate is None and (deg_rate := _number(_NUM + r"\s*(?:deg/s|degrees? per second)", text)) is not None:
        rate = math.radians(deg_rate)
    for key, sign in ((FORWARD, clause.forward), (SIDEWAYS, clause.sideways)):
        if sign is None:
            continue
        if key not in spec.keys:
            return None
        speed = speed_mps if speed_mps is not None else fraction * _limit(spec, key, sign)
        command[key] = math.copysign(speed, sign)
    if clause.turn is not None:
        if TURN not in spec.keys:
            return None
        moving = bool(command)  # turning while walking: no faster than normal, so the path is a curve
        turn_fraction = fraction if not moving else min(fraction, NORMAL)
        value = rate if rate is not None else turn_fraction * _limit(spec, TURN, clause.turn)
        command[TURN] = math.copysign(value, clause.turn)
    if not command and not clause.stop:
        return None
    duration = _duration(clause, command, text)
    return {key: round(value, 4) for key, value in command.items()}, duration


def _duration(clause: _Clause, command: dict[str, float], text: str) -> float:
    seconds = _number(r"\b" + _NUM + r"\s*(?:seconds?|secs?|s)\b(?!\s*/)", text)
    if seconds is not None:
        return seconds
    minutes = _number(r"\b" + _NUM + r"\s*(?:minutes?|mins?)\b", text)
    if minutes is not None:
        return minutes * 60.0
    degrees = _number(r"\b" + _NUM + r"\s*(?:degrees?|degs?)\b(?!\s*(?:/|per))", text)
    if degrees is not None and command.get(TURN):
        return math.radians(degrees) / abs(command[TURN])
    steps = _number(r"\b" + _NUM + r"\s*steps?\b", text)
    if steps is not None:
        return steps * STEP_S
    distance = _number(r"\b" + _NUM + r"\s*(?:m|meters?|metres?)\b(?!\s*/)(?!\s*per)", text)
    linear = math.hypot(command.get(FORWARD, 0.0), command.get(SIDEWAYS, 0.0))
    if distance is not None and linear > 0:
        return distance / linear
    return DEFAULT_STOP_S if clause.stop else DEFAULT_MOVE_S


def _clauses(sentence: str) -> list[tuple[str, str]]:
    """(normalised clause, the sentence's own words for it), in order."""
    out = []
    for original in _SPLIT.split(sentence):
        words = " ".join(original.split()).strip(" .!?")
        if not words:
            continue
        # A rewrite may itself be a sequence ("back and forth"): split again, keeping the words.
        for part in _SPLIT.split(_REPEAT.sub(" ", _normalise(words))):
            if part.strip(" .!?"):
                out.append((part.strip(" .!?"), words[:200]))
    return out


def _segments(command: dict[str, float], duration_s: float, label: str) -> list[CommandSegment]:
    """One segment, or several of at most MAX_SEGMENT_S for a longer hold."""
    count = max(1, math.ceil(duration_s / MAX_SEGMENT_S - 1e-9))
    each = round(duration_s / count, 4)
    return [CommandSegment(duration_s=each, command=command, label=label) for _ in range(count)]


def draft_schedule(sentence: str, spec: CommandSpec) -> CommandSchedule | None:
    """A command schedule for `sentence` on a policy whose command is `spec`, or None when the sentence
    is not (only) a motion a velocity command can express. Values are as the sentence asks; check the
    result with check_schedule, which clips out-of-range numbers and reports each."""
    repeat = bool(_REPEAT.search(_normalise(sentence)))
    held: list[tuple[str, str, dict[str, float], float]] = []  # clause, label, command, duration
    for part, label in _clauses(sentence):
        clause = _read_clause(part)
        if clause is None:
            return None
        if not clause.moves:
            # A modifier on its own ("walk forward, slowly", "..., for 3 seconds") belongs to the clause
            # before; other words that move nothing ("please") are left out.
            if held and re.search(r"\d|slow|fast|quick|brisk|gentl", part):
                last_part, last_label, *_ = held[-1]
                merged = _read_clause(f"{last_part} {part}")
                redone = _command(merged, spec) if merged is not None else None
                if redone is not None:
                    held[-1] = (f"{last_part} {part}", f"{last_label}, {label}", *redone)
            continue
        drafted = _command(clause, spec)
        if drafted is None:
            return None
        held.append((part, label, *drafted))
    segments = [seg for _, label, command, duration in held for seg in _segments(command, duration, label)]
    if not segments or len(segments) > MAX_SEGMENTS:
        return None
    return CommandSchedule(segments=segments, repeat=repeat)
