"""The offline drafter: a deterministic reward program and success check from the task text, no LLM.

`parse` reads the sentence (intent.py); templates.py picks the scene's template (each dm_control scene's
own Playground reward structure, the floating-base template for Menagerie robots, manipulation and a
generic fallback) and fills both programs from one plan (plan.py), so each phrase names the same
physical condition in the reward and in the check; revise.py revises a reward whose job failed its
check. Pure string work: safe in the API process (no JAX, nothing executed).
"""

from __future__ import annotations

from server.llm.builtin.intent import Intent, parse
from server.llm.builtin.plan import KNOB_DEFAULTS, Plan, render_check, render_reward
from server.llm.builtin.revise import BuiltinRevision, revise_builtin
from server.llm.builtin.templates import build_plan
from server.rewards.types import Vocabulary


def plan_for(task: str, scene_id: str, vocabulary: Vocabulary) -> Plan:
    """The drafted plan (reward terms and check figures) for `task` on `scene_id`."""
    names = {entry.name for entry in vocabulary.entries}
    return build_plan(task, scene_id, names, parse(task), dict(KNOB_DEFAULTS))


def draft_builtin(task: str, scene_id: str, vocabulary: Vocabulary) -> str:
    """A reward program for `task` on `scene_id`, using only names from `vocabulary`. Deterministic."""
    return render_reward(plan_for(task, scene_id, vocabulary))


def draft_builtin_check(task: str, scene_id: str, vocabulary: Vocabulary) -> str:
    """A success check (docs/CHECKS.md) for `task` on `scene_id`, from the same plan as its reward."""
    return render_check(plan_for(task, scene_id, vocabulary))


__all__ = [
    "BuiltinRevision",
    "Intent",
    "draft_builtin",
    "draft_builtin_check",
    "parse",
    "plan_for",
    "revise_builtin",
]
