"""The policy library: trained policies to list, rename, delete, export as one file and import.

Handlers read `request.app.state.training.library`. An import is checked like any untrusted input: archive
members and sizes, manifest, params hash, a scene this Robocoach knows, and a program that passes the
static reward check for that scene.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_422_UNPROCESSABLE_ENTITY

from server.rewards.static_check import static_check
from server.scenes.registry import UnknownScene
from server.training.library import (
    MAX_ARCHIVE_BYTES,
    InvalidPolicy,
    PolicyLibrary,
    PolicySummary,
    UnknownPolicy,
)
from server.training.types import PolicyManifest

AnyRequest = Request[Any, Any, Any]
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9 ._-]+")


class RenameRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


def _library(request: AnyRequest) -> PolicyLibrary:
    library: PolicyLibrary = request.app.state.training.library
    return library


def _not_found(exc: UnknownPolicy) -> NotFoundException:
    return NotFoundException(detail=str(exc), extra={"policy_id": exc.policy_id})


def export_filename(name: str) -> str:
    """`<name>.robocoach`, reduced to characters every file system and Content-Disposition accept."""
    stem = _UNSAFE_FILENAME.sub("_", name).strip(" ._") or "policy"
    return f"{stem[:100]}.robocoach"


class ModelsController(Controller):
    path = "/api/models"
    tags = ["models"]

    @get("/", sync_to_thread=True)
    def list_models(self, request: AnyRequest) -> list[PolicySummary]:
        """Every saved policy, newest first."""
        return _library(request).list()

    @get("/{policy_id:str}", sync_to_thread=False)
    def get_model(self, request: AnyRequest, policy_id: FromPath[str]) -> PolicyManifest:
        try:
            return _library(request).get(policy_id)
        except UnknownPolicy as exc:
            raise _not_found(exc) from exc

    @patch("/{policy_id:str}", sync_to_thread=False)
    def rename_model(
        self, request: AnyRequest, policy_id: FromPath[str], data: JSONBody[RenameRequest]
    ) -> PolicyManifest:
        try:
            return _library(request).rename(policy_id, data.name.strip() or data.name)
        except UnknownPolicy as exc:
            raise _not_found(exc) from exc

    @delete("/{policy_id:str}", status_code=204)
    async def delete_model(self, request: AnyRequest, policy_id: FromPath[str]) -> None:
        """Deletes the policy; sessions playing it end (their sockets close with 4404)."""
        try:
            _library(request).delete(policy_id)
        except UnknownPolicy as exc:
            raise _not_found(exc) from exc
        await request.app.state.inference.forget(policy_id)

    @get("/{policy_id:str}/export", media_type="application/octet-stream", sync_to_thread=True)
    def export_model(self, request: AnyRequest, policy_id: FromPath[str]) -> Response[bytes]:
        """The policy as one `.robocoach` file (a zip of manifest.json and params.msgpack)."""
        library = _library(request)
        try:
            manifest = library.get(policy_id)
            data = library.export(policy_id)
        except UnknownPolicy as exc:
            raise _not_found(exc) from exc
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

    @post("/import", status_code=201, request_max_body_size=MAX_ARCHIVE_BYTES)
    async def import_model(self, request: AnyRequest) -> PolicyManifest:
        """Adds a `.robocoach` file (raw body, application/octet-stream) under a new id; 400 names what is
        wrong with the file, 422 a scene or program this Robocoach cannot use."""
        body = await request.body()
        library = _library(request)
        try:
            manifest, params = library.import_archive(body)
        except InvalidPolicy as exc:
            raise HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
        try:
            await request.app.state.scenes.get(manifest.scene_id)
            vocabulary = await request.app.state.rewards.vocabulary(manifest.scene_id)
        except UnknownScene as exc:
            raise HTTPException(
                status_code=HTTP_422_UNPROCESSABLE_ENTITY,
                detail=f"the policy is for scene '{manifest.scene_id}', which this Robocoach does not have",
                extra={"valid_ids": exc.valid_ids},
            ) from exc
        report = static_check(
            manifest.program,
            {entry.name for entry in vocabulary.entries},
            {entry.name: entry.shape for entry in vocabulary.entries},
        )
        if not report.ok:
            first = report.errors[0]
            raise HTTPException(
                status_code=HTTP_422_UNPROCESSABLE_ENTITY,
                detail=f"the policy's reward program fails the check (line {first.line}: {first.message})",
                extra={"errors": [msgspec.to_builtins(error) for error in report.errors]},
            )
        return library.add_files(manifest, params)
