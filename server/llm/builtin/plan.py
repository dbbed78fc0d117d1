"""A drafted task as data: reward terms and check figures tied together by the physical condition they
name (their `role`), rendered to a reward program and a check program. The reviser edits a plan's
weights and knobs and renders it again; nothing here is ever executed."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field, replace

# Roles: the physical condition a term pays for and a figure judges. The reviser raises the weight of
# the terms that share a failing figure's role; "track" is following a commanded velocity.
Role = str  # e.g. "upright", "height", "speed", "track", "turn", "cart", "target", "still", "effort"

KNOB_DEFAULTS: dict[str, float] = {
    "aim": 1.0,  # multiplies the reward's target (speed, spin rate, cart offset) when a figure fell short
}
_KNOBS_LINE = re.compile(r"^Revision knobs: ([^\"\n]*)", re.M)


@dataclass(frozen=True)
class Term:
    name: str
    weight: float
    doc: str
    body: str  # statements; the last line is `return ...`
    role: Role


@dataclass(frozen=True)
class Figure:
    name: str
    doc: str
    body: str
    role: Role
    at_least: float | None = None
    at_most: float | None = None


@dataclass(frozen=True)
class Plan:
    task: str
    terms: list[Term]
    figures: list[Figure]
    knobs: dict[str, float] = field(default_factory=lambda: dict(KNOB_DEFAULTS))

    def with_weights(self, weights: dict[str, float]) -> Plan:
        return replace(self, terms=[replace(t, weight=weights.get(t.name, t.weight)) for t in self.terms])


def fmt(x: float) -> str:
    """A number as the programs write it (4 significant digits, never scientific for small ones)."""
    if abs(x) < 1e-4:
        return "0.0"
    text = f"{x:.4g}"
    if "e" in text:
        text = f"{x:.6f}".rstrip("0")
    return text if any(c in text for c in ".e") else text + ".0"


def _quoted(task: str) -> str:
    # The task is quoted inside a docstring: drop what could end it or escape out of it.
    return re.sub(r"[^\w\s.,;:!?()'/%+-]", " ", task).strip()[:300] or "(no task given)"


def _knobs_text(knobs: dict[str, float]) -> str:
    changed = {k: v for k, v in sorted(knobs.items()) if v != KNOB_DEFAULTS.get(k)}
    if not changed:
        return ""
    return "\nRevision knobs: " + ", ".join(f"{k}={fmt(v)}" for k, v in changed.items())


def read_knobs(program: str) -> dict[str, float]:
    """The knobs a rendered reward carries in its docstring (defaults where it names none)."""
    knobs = dict(KNOB_DEFAULTS)
    if m := _KNOBS_LINE.search(program):
        for part in m.group(1).split(","):
            key, _, value = part.strip().partition("=")
            if key in knobs:
                with contextlib.suppress(ValueError):
                    knobs[key] = float(value)
    return knobs


def _function(name: str, doc: str, body: str) -> str:
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return f'\ndef {name}(s):\n    """{doc}"""\n{lines}\n'


def render_reward(plan: Plan) -> str:
    weights = ", ".join(f"{t.name}={fmt(t.weight)}" for t in plan.terms)
    parts = [
        f'"""Task: {_quoted(plan.task)}\n\nDrafted offline by the built-in template drafter.'
        f'{_knobs_text(plan.knobs)}"""\n',
        f"WEIGHTS = dict({weights})\n",
    ]
    parts += [_function(t.name, t.doc, t.body) for t in plan.terms]
    return "\n".join(parts)


def render_check(plan: Plan) -> str:
    at_least = [f"{f.name}={fmt(f.at_least)}" for f in plan.figures if f.at_least is not None]
    at_most = [f"{f.name}={fmt(f.at_most)}" for f in plan.figures if f.at_most is not None]
    parts = [f'"""Check: {_quoted(plan.task)}\n\nDrafted offline by the built-in template drafter."""\n']
    requirements = []
    if at_least:
        requirements.append(f"AT_LEAST = dict({', '.join(at_least)})")
    if at_most:
        requirements.append(f"AT_MOST = dict({', '.join(at_most)})")
    parts.append("\n".join(requirements) + "\n")
    parts += [_function(f.name, f.doc, f.body) for f in plan.figures]
    return "\n".join(parts)
