"""Reward programs: a scene's vocabulary, and validation of a program (static check, then a trace check
in a worker process; this process never runs the program)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from server.api.errors import SCENE_ERRORS
from server.rewards.checker import RewardChecker
from server.rewards.types import ValidationReport, Vocabulary
from server.scenes.registry import SceneRegistry

MAX_PROGRAM_CHARS = 20_000


class ValidateRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    scene_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    # Longer programs are refused by the validator with a located message; this bound only stops abuse.
    program: Annotated[str, msgspec.Meta(max_length=4 * MAX_PROGRAM_CHARS)]
    kind: Literal["reward", "check"] = "reward"  # a success check (docs/CHECKS.md) or a reward program


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
