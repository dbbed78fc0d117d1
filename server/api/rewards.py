"""Reward programs: a scene's vocabulary, validation of a program (static check, then a trace check
in a worker process; this process never runs the program), and preparing a scene's checks ahead of the
first draft (the UI asks when a scene is selected, so the draft does not wait for the worker's compile)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from server.api.errors import SCENE_ERRORS
from server.policies.library import PolicyLibrary
from server.rewards.checker import RewardChecker
from server.rewards.types import PrepareStatus, ValidationReport, Vocabulary
from server.scenes.registry import SceneRegistry

MAX_PROGRAM_CHARS = 20_000


class ValidateRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    scene_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    # Longer programs are refused by the validator with a located message; this bound only stops abuse.
    program: Annotated[str, msgspec.Meta(max_length=4 * MAX_PROGRAM_CHARS)]
    kind: Literal["reward", "check"] = "reward"  # a success check (docs/CHECKS.md) or a reward program


class PrepareRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    scene_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


@get("/api/rewards/vocabulary/{scene_id:str}", responses=SCENE_ERRORS)
async def get_vocabulary(
    scenes: NamedDependency[SceneRegistry], rewards: NamedDependency[RewardChecker], scene_id: FromPath[str]
) -> Vocabulary:
    """What a reward term may read for this scene (names, shapes, units), helpers and jnp functions."""
    await scenes.get(scene_id)
    return await rewards.vocabulary(scene_id)


@post("/api/rewards/validate", status_code=200, responses=SCENE_ERRORS)
async def validate_program(
    scenes: NamedDependency[SceneRegistry],
    rewards: NamedDependency[RewardChecker],
    data: JSONBody[ValidateRequest],
) -> ValidationReport:
    """Checks a (possibly hand-edited) program; errors come back located, never as an HTTP error (an
    unknown scene is a 404)."""
    await scenes.get(data.scene_id)
    if data.kind == "check":
        return await rewards.validate_check(data.scene_id, data.program)
    return await rewards.validate(data.scene_id, data.program)


@post("/api/rewards/prepare", status_code=202, responses=SCENE_ERRORS)
async def prepare_checks(
    scenes: NamedDependency[SceneRegistry],
    rewards: NamedDependency[RewardChecker],
    policies: NamedDependency[PolicyLibrary],
    data: JSONBody[PrepareRequest],
) -> PrepareStatus:
    """Starts loading the scene and compiling its check rollouts in the reward worker (idempotent: a
    prepared or preparing scene only reports its state; a failed one is tried again), so the first
    draft's check only runs the new program. The rollouts of the base the planner would fine-tune are
    made too (its verdict on the draft's check decides the tier). Ask `GET
    /api/rewards/prepare/{scene_id}` to follow it."""
    from server.planning.plan import pick_base
    from server.services import base_to_judge

    scene = await scenes.get(data.scene_id)
    base = pick_base(scene, policies.bases(scene.id))
    return rewards.prepare(scene.id, base_to_judge(policies, scene, base.id if base is not None else None))


@get("/api/rewards/prepare/{scene_id:str}", responses=SCENE_ERRORS)
async def prepare_status(
    scenes: NamedDependency[SceneRegistry], rewards: NamedDependency[RewardChecker], scene_id: FromPath[str]
) -> PrepareStatus:
    """Whether the scene's checks are prepared, being prepared (and for how long), failed (and why), or
    idle (nobody asked since the worker started). Starts nothing."""
    await scenes.get(scene_id)
    return rewards.prepare_status(scene_id)
