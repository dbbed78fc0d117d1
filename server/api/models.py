"""The policy library: trained policies to list, rename, delete, export as one file and import.

Handlers use the app's policy library (server.policies.library), not the training manager. An import is
untrusted input: archive members and sizes, manifest, params hash, a scene this Robocoach knows, and a
reward program that passes the same validation as a drafted one (static check, then the trace check in the
sandboxed worker). An imported policy is kept marked "imported" and plays only after the user has read its
program and confirmed it (`POST /api/models/{id}/review`): playing runs that program.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from server.api.errors import POLICY_PROTECTED, UNKNOWN_POLICY, ErrorBody, UnknownPolicyBody
from server.inference.service import InferenceService
from server.policies import archive
from server.policies.archive import MAX_ARCHIVE_BYTES
from server.policies.library import PolicyLibrary, PolicySummary
from server.policies.manifest import InvalidPolicy, PolicyManifest
from server.rewards.checker import RewardChecker, RewardWorkerError
from server.rewards.types import ValidationReport
from server.scenes.registry import SceneRegistry, UnknownScene

AnyRequest = Request[Any, Any, Any]
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9 ._-]+")


class RenameRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class BaseRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    base: bool  # true: a base for the command and fine-tune tiers of its scene


_DAMAGED = {
    422: ResponseSpec(
        data_container=ErrorBody, generate_examples=False, description="The policy's files are damaged"
    )
}
_NO_CLIP = {
    404: ResponseSpec(
        data_container=UnknownPolicyBody,
        generate_examples=False,
        description="Unknown policy id, or the policy has no clip",
    )
}
_IMPORT_ERRORS = {
    400: ResponseSpec(
        data_container=ErrorBody, generate_examples=False, description="The file is not a valid policy file"
    ),
    422: ResponseSpec(
        data_container=ErrorBody,
        generate_examples=False,
        description="A scene this Robocoach does not have, or a reward program that fails the check",
    ),
    503: ResponseSpec(
        data_container=ErrorBody, generate_examples=False, description="The reward checker could not run"
    ),
}


def export_filename(name: str) -> str:
    """`<name>.robocoach`, reduced to characters every file system and Content-Disposition accept."""
    stem = _UNSAFE_FILENAME.sub("_", name).strip(" ._") or "policy"
    return f"{stem[:100]}.robocoach"


class ModelsController(Controller):
    path = "/api/models"
    tags = ["models"]

    @get("/", sync_to_thread=True)
    def list_models(self, policies: NamedDependency[PolicyLibrary]) -> list[PolicySummary]:
        """Every saved policy, newest first."""
        return policies.list()

    @get("/{policy_id:str}", sync_to_thread=False, responses=UNKNOWN_POLICY)
    def get_model(self, policies: NamedDependency[PolicyLibrary], policy_id: FromPath[str]) -> PolicyManifest:
        return policies.get(policy_id)

    @patch("/{policy_id:str}", sync_to_thread=False, responses={**UNKNOWN_POLICY, **POLICY_PROTECTED})
    def rename_model(
        self,
        policies: NamedDependency[PolicyLibrary],
        policy_id: FromPath[str],
        data: JSONBody[RenameRequest],
    ) -> PolicyManifest:
        return policies.rename(policy_id, data.name.strip() or data.name)

    @post(
        "/{policy_id:str}/base",
        status_code=200,
        sync_to_thread=False,
        responses={**UNKNOWN_POLICY, **POLICY_PROTECTED},
    )
    def set_model_base(
        self,
        policies: NamedDependency[PolicyLibrary],
        policy_id: FromPath[str],
        data: JSONBody[BaseRequest],
    ) -> PolicySummary:
        """Marks one of the user's policies as a base for its scene's fine-tune and command tiers (or
        unmarks it); a marked base cannot be deleted. A shipped base is always one (409 to unmark)."""
        return policies.set_base(policy_id, data.base)

    @post("/{policy_id:str}/review", status_code=200, sync_to_thread=False, responses=UNKNOWN_POLICY)
    def review_model(
        self, policies: NamedDependency[PolicyLibrary], policy_id: FromPath[str]
    ) -> PolicyManifest:
        """The user has read the policy's reward program: an imported policy may play from now on.
        Idempotent; a trained policy is unchanged apart from the time being recorded."""
        return policies.mark_reviewed(policy_id)

    @delete("/{policy_id:str}", status_code=204, responses={**UNKNOWN_POLICY, **POLICY_PROTECTED})
    async def delete_model(
        self,
        policies: NamedDependency[PolicyLibrary],
        inference: NamedDependency[InferenceService],
        policy_id: FromPath[str],
    ) -> None:
        """Deletes the policy; sessions playing it end (their sockets close with 4404). 409 for a base: a
        shipped one cannot be deleted, a user's must be unmarked first."""
        policies.delete(policy_id)
        await inference.forget(policy_id)

    @get(
        "/{policy_id:str}/export",
        media_type="application/octet-stream",
        sync_to_thread=True,
        responses={**UNKNOWN_POLICY, **_DAMAGED},
    )
    def export_model(
        self, policies: NamedDependency[PolicyLibrary], policy_id: FromPath[str]
    ) -> Response[bytes]:
        """The policy as one `.robocoach` file (a zip of manifest.json and params.msgpack)."""
        try:
            manifest = policies.get(policy_id)
            data = policies.export(policy_id)
        except InvalidPolicy as exc:
            raise HTTPException(
                status_code=HTTP_422_UNPROCESSABLE_ENTITY, detail=f"policy '{policy_id}' is damaged: {exc}"
            ) from exc
        filename = export_filename(manifest.name)
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @get("/{policy_id:str}/clip", media_type="image/webp", sync_to_thread=True, responses=_NO_CLIP)
    def model_clip(
        self, policies: NamedDependency[PolicyLibrary], policy_id: FromPath[str]
    ) -> Response[bytes]:
        """A few seconds of the policy's deterministic rollout (an animated WebP), made when it was trained
        (docs/CLIPS.md); 404 when the policy has none (`PolicySummary.clip` says which have one)."""
        data = policies.clip(policy_id)
        if data is None:
            raise HTTPException(
                status_code=HTTP_404_NOT_FOUND,
                detail=f"policy '{policy_id}' has no clip",
                extra={"policy_id": policy_id},
            )
        return Response(data, media_type="image/webp")

    @post("/import", status_code=201, request_max_body_size=MAX_ARCHIVE_BYTES, responses=_IMPORT_ERRORS)
    async def import_model(
        self,
        request: AnyRequest,
        policies: NamedDependency[PolicyLibrary],
        scenes: NamedDependency[SceneRegistry],
        rewards: NamedDependency[RewardChecker],
    ) -> PolicyManifest:
        """Adds a `.robocoach` file (raw body, application/octet-stream) under a new id, marked imported and
        unreviewed; 400 names what is wrong with the file, 422 a scene or program this Robocoach cannot use
        (with the program's located errors)."""
        body = await request.body()
        try:
            manifest, params = archive.unpack(body)
        except InvalidPolicy as exc:
            raise HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
        try:
            await scenes.get(manifest.scene_id)
            # The same rules as a drafted program: the static check, then the trace in the worker.
            report: ValidationReport = await rewards.validate(manifest.scene_id, manifest.program)
        except UnknownScene as exc:
            raise HTTPException(
                status_code=HTTP_422_UNPROCESSABLE_ENTITY,
                detail=f"the policy is for scene '{manifest.scene_id}', which this Robocoach does not have",
                extra={"valid_ids": exc.valid_ids},
            ) from exc
        except RewardWorkerError as exc:  # the checker could not run: refuse rather than trust the program
            raise HTTPException(
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
                detail=f"the policy's reward program could not be checked now: {exc}",
            ) from exc
        if not report.ok:
            first = report.errors[0]
            raise HTTPException(
                status_code=HTTP_422_UNPROCESSABLE_ENTITY,
                detail=f"the policy's reward program fails the check (line {first.line}: {first.message})",
                extra={"errors": [msgspec.to_builtins(error) for error in report.errors]},
            )
        return policies.add_imported(manifest, params)
