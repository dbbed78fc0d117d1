"""The API's error answers in one place: the app-level handlers that turn the services' "unknown X" and
"not now" exceptions into HTTP answers (so request handlers do not translate them one by one), and the
bodies they answer with, declared per route (`responses=`) so the OpenAPI schema and the UI's generated
types list them.

Every error body has Litestar's shape `{status_code, detail, extra?}`; `extra` names the thing concerned.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import (
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap

from server.policies.library import PolicyProtected, UnknownPolicy
from server.rewards.checker import RewardWorkerError
from server.scenes.registry import CatalogUnavailableError, SceneFailedError, UnknownScene
from server.training.jobs import InvalidTransition, UnknownJob

AnyRequest = Request[Any, Any, Any]


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int
    detail: str


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


class UnknownPolicyExtra(msgspec.Struct, frozen=True, kw_only=True):
    policy_id: str


class UnknownPolicyBody(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int
    detail: str
    extra: UnknownPolicyExtra


class UnknownJobExtra(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str


class UnknownJobBody(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int
    detail: str
    extra: UnknownJobExtra


class JobConflictExtra(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    state: str  # the job's state now; the UI shows it


class JobConflictBody(msgspec.Struct, frozen=True, kw_only=True):
    """The 409 body when a job cannot make the asked transition (e.g. cancel a finished job)."""

    status_code: int
    detail: str
    extra: JobConflictExtra


def _spec(body: type[msgspec.Struct], description: str) -> ResponseSpec:
    return ResponseSpec(data_container=body, generate_examples=False, description=description)


# For `responses=` on routes. A route lists what it can answer; the handlers below produce the bodies.
SCENE_ERRORS: dict[int, ResponseSpec] = {
    404: _spec(UnknownSceneBody, "Unknown scene id; lists the valid ids"),
    422: _spec(SceneErrorBody, "The scene's environment failed to load"),
    503: _spec(ErrorBody, "Playground could not list its scenes, or the reward checker could not answer"),
}
UNKNOWN_POLICY = {404: _spec(UnknownPolicyBody, "Unknown policy id")}
POLICY_PROTECTED = {
    409: _spec(
        UnknownPolicyBody, "A base policy: a shipped one is read-only, a user's must be unmarked first"
    )
}
UNKNOWN_JOB = {404: _spec(UnknownJobBody, "Unknown training job id")}
JOB_CONFLICT = {
    409: _spec(JobConflictBody, "The job's state does not allow this; `extra.state` says what it is")
}


def error_response(status_code: int, detail: str, extra: dict[str, Any] | None = None) -> Response[Any]:
    body: dict[str, Any] = {"status_code": status_code, "detail": detail}
    if extra is not None:
        body["extra"] = extra
    return Response(body, status_code=status_code)


def _unknown_scene(_: AnyRequest, exc: UnknownScene) -> Response[Any]:
    return error_response(HTTP_404_NOT_FOUND, f"unknown scene '{exc.scene_id}'", {"valid_ids": exc.valid_ids})


def _scene_failed(_: AnyRequest, exc: SceneFailedError) -> Response[Any]:
    # Not 500: Litestar replaces a 500's detail with "Internal Server Error", hiding the load error.
    return error_response(
        HTTP_422_UNPROCESSABLE_ENTITY,
        f"scene '{exc.scene_id}' failed to load: {exc.error}",
        {"scene_id": exc.scene_id, "error": exc.error},
    )


def _catalog_unavailable(_: AnyRequest, exc: CatalogUnavailableError) -> Response[Any]:
    return error_response(HTTP_503_SERVICE_UNAVAILABLE, f"scenes are unavailable: {exc}")


def _reward_worker(_: AnyRequest, exc: RewardWorkerError) -> Response[Any]:
    # The reward checker's worker could not answer (crashed, timed out): the server's fault, said plainly.
    return error_response(HTTP_503_SERVICE_UNAVAILABLE, f"the reward checker failed: {exc}")


def _unknown_policy(_: AnyRequest, exc: UnknownPolicy) -> Response[Any]:
    return error_response(HTTP_404_NOT_FOUND, str(exc), {"policy_id": exc.policy_id})


def _policy_protected(_: AnyRequest, exc: PolicyProtected) -> Response[Any]:
    return error_response(HTTP_409_CONFLICT, str(exc), {"policy_id": exc.policy_id})


def _unknown_job(_: AnyRequest, exc: UnknownJob) -> Response[Any]:
    return error_response(HTTP_404_NOT_FOUND, str(exc), {"job_id": exc.job_id})


def _invalid_transition(_: AnyRequest, exc: InvalidTransition) -> Response[Any]:
    return error_response(HTTP_409_CONFLICT, str(exc), {"job_id": exc.job_id, "state": exc.current})


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    UnknownScene: _unknown_scene,
    SceneFailedError: _scene_failed,
    CatalogUnavailableError: _catalog_unavailable,
    RewardWorkerError: _reward_worker,
    UnknownPolicy: _unknown_policy,
    PolicyProtected: _policy_protected,
    UnknownJob: _unknown_job,
    InvalidTransition: _invalid_transition,
}
