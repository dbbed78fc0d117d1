"""Scenes: the Playground environments the UI can show, and their compiled models (MJB).

Handlers receive the app's `SceneRegistry` by dependency injection; an unknown or failed scene raises, and
the app's exception handlers answer 404 (with the valid ids) or 422 (server/api/errors.py).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import ETag
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import File
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from server.api.errors import SCENE_ERRORS
from server.scenes.registry import SceneRegistry
from server.scenes.types import SceneInfo, SceneList

AnyRequest = Request[Any, Any, Any]

# A model's URL is stable but its bytes change with MuJoCo/Playground versions; the ETag (the MJB hash)
# catches that, so "immutable" only means "no need to revalidate within one version".
_CACHE_CONTROL = "private, max-age=31536000, immutable"


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
    def list_scenes(self, scenes: NamedDependency[SceneRegistry]) -> SceneList:
        """Every scene: ready ones, those still being verified on first launch, and failures."""
        return scenes.snapshot()

    @get("/{scene_id:str}", responses=SCENE_ERRORS)
    async def get_scene(self, scenes: NamedDependency[SceneRegistry], scene_id: FromPath[str]) -> SceneInfo:
        """One scene; waits for it if it is still being exported. 404 lists the valid ids."""
        return await scenes.get(scene_id)

    @get("/{scene_id:str}/model.mjb", media_type="application/octet-stream", responses=SCENE_ERRORS)
    async def get_model(
        self, request: AnyRequest, scenes: NamedDependency[SceneRegistry], scene_id: FromPath[str]
    ) -> Response[Any]:
        """The trainer's compiled model as MJB, gzip content-encoded; load it with the same MuJoCo version."""
        info = await scenes.get(scene_id)
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
            scenes.model_path(scene_id),
            filename=f"{scene_id}.mjb",
            content_disposition_type="inline",
            media_type="application/octet-stream",
            etag=ETag(value=info.model_sha256),
            headers={**headers, "Content-Encoding": "gzip"},
        )
