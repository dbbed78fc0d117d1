"""Scenes: the Playground environments the UI can show, and their compiled models (MJB).

Handlers only read `request.app.state.scenes`, a `SceneRegistry` the app opens in its lifespan.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import ETag
from litestar.exceptions import HTTPException, NotFoundException, ServiceUnavailableException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import File
from litestar.status_codes import HTTP_304_NOT_MODIFIED, HTTP_422_UNPROCESSABLE_ENTITY

from server.scenes.registry import CatalogUnavailableError, SceneFailedError, SceneRegistry, UnknownScene
from server.scenes.types import SceneInfo, SceneList

AnyRequest = Request[Any, Any, Any]

# A model's URL is stable but its bytes change with MuJoCo/Playground versions; the ETag (the MJB hash)
# catches that, so "immutable" only means "no need to revalidate within one version".
_CACHE_CONTROL = "private, max-age=31536000, immutable"


class UnknownSceneExtra(msgspec.Struct, frozen=True, kw_only=True):
    valid_ids: list[str]


class UnknownSceneBody(msgspec.Struct, frozen=True, kw_only=True):
    """The 404 body for an unknown scene id (documented so the UI's generated types include it)."""

    status_code: int
    detail: str
    extra: UnknownSceneExtra


class SceneErrorExtra(msgspec.Struct, frozen=True, kw_only=True):
    scene_id: str
    error: str


class SceneErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """The 422 body for a scene whose environment failed to load."""

    status_code: int
    detail: str
    extra: SceneErrorExtra


_ERRORS = {
    404: ResponseSpec(
        data_container=UnknownSceneBody,
        generate_examples=False,
        description="Unknown scene id; lists the valid ids",
    ),
    422: ResponseSpec(
        data_container=SceneErrorBody,
        generate_examples=False,
        description="The scene's environment failed to load",
    ),
}


def _registry(request: AnyRequest) -> SceneRegistry:
    registry: SceneRegistry = request.app.state.scenes
    return registry


async def scene_or_error(request: AnyRequest, scene_id: str) -> SceneInfo:
    """The scene's facts (waiting for a pending export); 404 lists valid ids, 422 gives the load error."""
    try:
        return await _registry(request).get(scene_id)
    except UnknownScene as exc:
        raise NotFoundException(
            detail=f"unknown scene '{scene_id}'", extra={"valid_ids": exc.valid_ids}
        ) from exc
    except SceneFailedError as exc:
        # Not 500: Litestar replaces a 500's detail with "Internal Server Error", hiding the load error.
        raise HTTPException(
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
            detail=f"scene '{scene_id}' failed to load: {exc.error}",
            extra={"scene_id": scene_id, "error": exc.error},
        ) from exc
    except CatalogUnavailableError as exc:
        raise ServiceUnavailableException(detail=f"scenes are unavailable: {exc}") from exc


def etag_matches(if_none_match: str | None, sha256: str) -> bool:
    """RFC 9110 If-None-Match: a list of (possibly weak) tags, or "*"."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or f'"{sha256}"' in tags


class ScenesController(Controller):
    path = "/api/playground/scenes"
    tags = ["scenes"]

    @get("/", sync_to_thread=False)
    def list_scenes(self, request: AnyRequest) -> SceneList:
        """Every scene: ready ones, those still being verified on first launch, and failures."""
        return _registry(request).snapshot()

    @get("/{scene_id:str}", responses=_ERRORS)
    async def get_scene(self, request: AnyRequest, scene_id: FromPath[str]) -> SceneInfo:
        """One scene; waits for it if it is still being exported. 404 lists the valid ids."""
        return await scene_or_error(request, scene_id)

    @get("/{scene_id:str}/model.mjb", media_type="application/octet-stream", responses=_ERRORS)
    async def get_model(self, request: AnyRequest, scene_id: FromPath[str]) -> Response[Any]:
        """The trainer's compiled model as MJB, gzip content-encoded; load it with the same MuJoCo version."""
        info = await scene_or_error(request, scene_id)
        headers = {
            "Cache-Control": _CACHE_CONTROL,
            "X-Mujoco-Version": info.mujoco_version,
            "Vary": "Authorization",
        }
        if etag_matches(request.headers.get("if-none-match"), info.model_sha256):
            return Response(
                content=b"",
                status_code=HTTP_304_NOT_MODIFIED,
                headers={**headers, "ETag": f'"{info.model_sha256}"'},
            )
        return File(
            _registry(request).model_path(scene_id),
            filename=f"{scene_id}.mjb",
            content_disposition_type="inline",
            media_type="application/octet-stream",
            etag=ETag(value=info.model_sha256),
            headers={**headers, "Content-Encoding": "gzip"},
        )
