"""Reward programs: a scene's vocabulary, and validation of a program (static check, then a trace check
in a worker process; this process never runs the program)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, JSONBody

from server.api.scenes import scene_or_error
from server.rewards.types import ValidationReport, Vocabulary

AnyRequest = Request[Any, Any, Any]
MAX_PROGRAM_CHARS = 20_000


class ValidateRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    scene_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    # Longer programs are refused by the validator with a located message; this bound only stops abuse.
    program: Annotated[str, msgspec.Meta(max_length=4 * MAX_PROGRAM_CHARS)]


@get("/api/rewards/vocabulary/{scene_id:str}")
async def get_vocabulary(request: AnyRequest, scene_id: FromPath[str]) -> Vocabulary:
    """What a reward term may read for this scene (names, shapes, units), helpers and jnp functions."""
    await scene_or_error(request, scene_id)
    vocabulary: Vocabulary = await request.app.state.rewards.vocabulary(scene_id)
    return vocabulary


@post("/api/rewards/validate", status_code=200)
async def validate_program(request: AnyRequest, data: JSONBody[ValidateRequest]) -> ValidationReport:
    """Checks a (possibly hand-edited) program; errors come back located, never as an HTTP error."""
    await scene_or_error(request, data.scene_id)
    report: ValidationReport = await request.app.state.rewards.validate(data.scene_id, data.program)
    return report
