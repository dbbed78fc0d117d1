"""Base policies for the fine-tune and command tiers: "Prepare a base policy" trains one for a scene.

Marking one of the user's own policies as a base is `POST /api/models/{id}/base` (server/api/models.py);
the shipped bases are listed with the rest of the library.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from server.api.errors import SCENE_ERRORS
from server.services import InvalidProgramError, Services, prepare_base
from server.training.types import JobStatus


class PrepareBaseRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    scene_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


@post("/api/bases/prepare", status_code=201, responses=SCENE_ERRORS, tags=["models"])
async def prepare_base_policy(
    services: NamedDependency[Services], data: JSONBody[PrepareBaseRequest]
) -> JobStatus:
    """Starts a job training the scene's own task (the built-in drafter's reward and success check) on
    the default preset, so on the GPU or Modal when there is one; its policy joins the library marked as
    a base (`base: "user"`). 404 for an unknown scene, with the valid ids; 422 when the scene cannot load
    or its drafted program does not validate."""
    try:
        return await prepare_base(services, data.scene_id)
    except InvalidProgramError as exc:  # the built-in drafter's program for the scene: our bug, said plainly
        first = exc.report.errors[0] if exc.report.errors else None
        where = f" (line {first.line}: {first.message})" if first is not None else ""
        detail = f"the base task's drafted program for {data.scene_id} does not validate{where}"
        # The scene errors' 422 body: the scene and what went wrong with it.
        raise HTTPException(
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
            detail=detail,
            extra={"scene_id": data.scene_id, "error": detail},
        ) from exc
