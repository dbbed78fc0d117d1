"""The built-in drafter's deterministic revision of a reward whose job failed its check (issue 15's
reflection): raise the weight of the terms tied to a failing figure, relax penalties when the policy
barely moved, lengthen the budget when the curve was still rising, aim further when a figure was close.

A reward the drafter wrote itself (its rendering reproduces the program exactly) is re-rendered from
the template with new weights and knobs; any other program (edited by a person, written by an LLM)
only gets its `WEIGHTS = dict(...)` literal rewritten, located with `ast`. Nothing is executed.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field

from server.checks.types import Reflection
from server.checks.verdict import CLOSE, failing_figures, reached
from server.llm.builtin.intent import parse
from server.llm.builtin.plan import Plan, fmt, read_knobs, render_reward
from server.llm.builtin.templates import build_plan
from server.rewards.types import Vocabulary

RAISE = 1.5  # a failing figure's terms get this much more weight per round
MAX_WEIGHT = 20.0
AIM_STEP = 1.2
MAX_AIM = 2.0
LONGER = 1.5  # budget factor when the curve was still rising


@dataclass(frozen=True)
class BuiltinRevision:
    program: str  # the revised reward; passes the static check whenever the reflected one did
    timesteps_factor: float  # >= 1: multiply the next round's training budget by this
    notes: list[str] = field(default_factory=list)  # one sentence each, for people: what changed and why


def read_weights(program: str) -> tuple[dict[str, float], ast.Assign] | None:
    """WEIGHTS as {name: value} and its assignment node, or None when it is not a plain literal dict."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "WEIGHTS"
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "dict"
            and not node.value.args
        ):
            weights: dict[str, float] = {}
            for keyword in node.value.keywords:
                value = keyword.value
                sign = 1.0
                if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
                    sign, value = -1.0, value.operand
                if keyword.arg is None or not isinstance(value, ast.Constant):
                    return None
                if not isinstance(value.value, int | float) or isinstance(value.value, bool):
                    return None
                weights[keyword.arg] = sign * float(value.value)
            return weights, node
    return None


def _replace_weights(program: str, node: ast.Assign, weights: dict[str, float]) -> str:
    """`program` with only the WEIGHTS assignment's source replaced (same keys, same order)."""
    lines = program.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: node.lineno - 1]) + node.col_offset
    end_line = node.end_lineno or node.lineno
    end = sum(len(line) for line in lines[: end_line - 1]) + (node.end_col_offset or 0)
    text = "WEIGHTS = dict(" + ", ".join(f"{k}={fmt(v)}" for k, v in weights.items()) + ")"
    return program[:start] + text + program[end:]


def _own_plan(
    reflection: Reflection, scene_id: str, names: set[str], weights: dict[str, float]
) -> Plan | None:
    """The template state behind the reflected program, if the built-in drafter wrote it unchanged."""
    knobs = read_knobs(reflection.program)
    plan = build_plan(reflection.task_description, scene_id, names, parse(reflection.task_description), knobs)
    if [t.name for t in plan.terms] != list(weights):
        return None
    plan = plan.with_weights(weights)
    return plan if render_reward(plan) == reflection.program else None


_ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "upright": ("upright", "balance", "stand_tall", "on_top", "fell", "tilt"),
    "height": ("height", "stand", "tall"),
    "speed": ("speed", "velocity", "move", "walk", "run", "swim", "track_velocity", "forward", "backward"),
    "turn": ("yaw", "turn"),
    "cart": ("cart", "center", "centre", "rail"),
    "target": ("target", "reach", "distance", "approach", "cup"),
    "spin": ("spin",),
    "still": ("still", "stay", "drift", "motion"),
    "lift": ("lift", "lifted", "cube"),
}


def _role_by_name(name: str) -> str | None:
    lowered = name.lower()
    for role, words in _ROLE_WORDS.items():
        if any(w in lowered for w in words):
            return role
    return None


def _rising(rewards: list[float], kept_step: int, total_steps: int) -> bool:
    """The eval curve was still climbing when the budget ran out."""
    finite = [r for r in rewards if math.isfinite(r)]
    if len(finite) < 3:
        return total_steps > 0 and kept_step >= 0.9 * total_steps
    tail = finite[-max(2, len(finite) // 3) :]
    best = max(finite)
    spread = max(best - min(finite), 1e-9)
    return tail[-1] > tail[0] + 0.05 * spread and tail[-1] >= best - 0.1 * spread


def revise_builtin(reflection: Reflection, scene_id: str, vocabulary: Vocabulary) -> BuiltinRevision:
    """A revised reward (and budget factor) for a job that failed its check. Deterministic."""
    names = {entry.name for entry in vocabulary.entries}
    parsed = read_weights(reflection.program)
    plan = None
    if parsed is not None:
        plan = _own_plan(reflection, scene_id, names, parsed[0])
    if parsed is None:  # no literal WEIGHTS to edit: start again from the template
        knobs = read_knobs("")
        plan = build_plan(
            reflection.task_description, scene_id, names, parse(reflection.task_description), knobs
        )
        weights = {t.name: t.weight for t in plan.terms}
        notes = ["The reward's WEIGHTS could not be read, so the built-in template was drafted again."]
    else:
        weights = dict(parsed[0])
        notes = []
    roles = {t.name: t.role for t in plan.terms} if plan is not None else {}
    figure_roles = {}
    if plan is not None:
        figure_roles = {f.name: f.role for f in plan.figures}
    knobs = dict(plan.knobs) if plan is not None else {}
    episodes = max(reflection.result.episodes, 1)
    failing = failing_figures(reflection.result)

    def role_of_term(name: str) -> str | None:
        return roles.get(name) or _role_by_name(name)

    raised: set[str] = set()
    for figure in failing:
        role = figure_roles.get(figure.name) or _role_by_name(figure.name)
        tied = [n for n, w in weights.items() if w > 0 and role is not None and role_of_term(n) == role]
        if not tied:  # nothing pays for this condition by name: strengthen the main term
            tied = [n for n, w in weights.items() if w > 0][:1]
        for name in tied:
            if name in raised:
                continue
            raised.add(name)
            weights[name] = min(MAX_WEIGHT, weights[name] * RAISE)
        if tied:
            notes.append(
                f"'{figure.name}' held in {figure.met}/{episodes} episodes (mean {figure.mean:.3g}), "
                "so the weight "
                f"of {', '.join(repr(n) for n in tied)} went up {RAISE:g}x."
            )
    # Barely moved: a motion figure far short of its requirement. Penalties are what keep it still.
    motion = [
        f
        for f in failing
        if (figure_roles.get(f.name) or _role_by_name(f.name)) in ("speed", "spin", "target", "turn")
    ]
    if motion and all(reached(f) < 0.25 for f in motion):
        penalties = [n for n, w in weights.items() if w < 0]
        for name in penalties:
            weights[name] = weights[name] / 2.0
        if penalties:
            notes.append(
                "The policy barely moved towards the goal, so the penalties "
                f"({', '.join(repr(n) for n in penalties)}) were halved."
            )
    # Close: aim the reward's target a bit further so the mean clears the requirement.
    if plan is not None:
        close = [
            f
            for f in failing
            if CLOSE <= reached(f) < 1.0 and figure_roles.get(f.name) in ("speed", "spin", "cart")
        ]
        if close and knobs.get("aim", 1.0) < MAX_AIM:
            knobs["aim"] = round(min(MAX_AIM, knobs.get("aim", 1.0) * AIM_STEP), 4)
            notes.append(
                f"'{close[0].name}' came close ({close[0].mean:.3g}), so the reward now aims "
                f"{round((knobs['aim'] - 1) * 100)}% beyond the asked value."
            )
    factor = 1.0
    if _rising(reflection.eval_rewards, reflection.kept_step, reflection.total_steps):
        factor = LONGER
        notes.append(f"The reward was still rising when training ended, so the budget is {LONGER:g}x longer.")
    if not notes:
        factor = LONGER
        notes.append(f"No single figure explains the failure, so the budget is {LONGER:g}x longer.")

    if plan is not None:
        fresh = build_plan(
            reflection.task_description, scene_id, names, parse(reflection.task_description), knobs
        )
        program = render_reward(fresh.with_weights(weights))
    else:
        assert parsed is not None
        program = _replace_weights(reflection.program, parsed[1], weights)
    return BuiltinRevision(program=program, timesteps_factor=factor, notes=notes)


__all__ = ["BuiltinRevision", "read_weights", "revise_builtin"]
