"""Training jobs: start one from a validated program, list, watch (Server-Sent Events), cancel, resume.

Handlers receive the app's `TrainingManager` by dependency injection; starting a job is the `start_job`
use case (server/services.py) the CLI runs too. Unknown jobs (404) and refused transitions (409) are
answered by the app's exception handlers (server/api/errors.py). The event stream is read by the UI with
fetch() streaming, since EventSource cannot send the Authorization header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_422_UNPROCESSABLE_ENTITY

from server.api.errors import (
    JOB_CONFLICT,
    SCENE_ERRORS,
    UNKNOWN_JOB,
    SceneErrorBody,
    UnknownSceneBody,
    error_response,
)
from server.rewards.types import ValidationReport
from server.services import (
    BasePolicyMismatch,
    InvalidProgramError,
    Services,
    UnknownBasePolicy,
    start_job,
)
from server.training.backends import DeviceReport
from server.training.manager import TrainingManager
from server.training.modal_backend import modal_configured
from server.training.remote import GPU
from server.training.settings import TrainingSettings, write_training_settings
from server.training.types import BackendName, JobSpec, JobStatus

AnyRequest = Request[Any, Any, Any]


class ModalStatus(msgspec.Struct, frozen=True, kw_only=True):
    configured: bool
    detail: str  # where the token was found, or how to configure one; never the token
    gpu: str
    max_concurrent: int
    running: int


class BackendsReport(msgspec.Struct, frozen=True, kw_only=True):
    """Which device trains new jobs and why, for the settings page."""

    selected: BackendName  # where new jobs go
    local: DeviceReport
    local_running: int
    modal: ModalStatus
    queued: int


class UnknownBasePolicyExtra(msgspec.Struct, frozen=True, kw_only=True):
    base_policy_id: str


class UnknownBasePolicyBody(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int
    detail: str
    extra: UnknownBasePolicyExtra


_START_RESPONSES = {
    **SCENE_ERRORS,
    404: ResponseSpec(
        data_container=cast("type[Any]", UnknownSceneBody | UnknownBasePolicyBody),  # a oneOf
        generate_examples=False,
        description="Unknown scene (`extra.valid_ids`) or unknown base policy (`extra.base_policy_id`)",
    ),
    422: ResponseSpec(
        data_container=cast("type[Any]", ValidationReport | SceneErrorBody),
        generate_examples=False,
        description="The reward program did not pass validation (the report locates each error), or the "
        "scene failed to load",
    ),
}


def _invalid_program(_: AnyRequest, exc: InvalidProgramError) -> Response[ValidationReport]:
    return Response(exc.report, status_code=HTTP_422_UNPROCESSABLE_ENTITY)


def _unknown_base_policy(_: AnyRequest, exc: UnknownBasePolicy) -> Response[Any]:
    return error_response(HTTP_404_NOT_FOUND, str(exc), {"base_policy_id": exc.policy_id})


def _base_policy_mismatch(_: AnyRequest, exc: BasePolicyMismatch) -> Response[Any]:
    return error_response(HTTP_400_BAD_REQUEST, str(exc))


class TrainingController(Controller):
    path = "/api/training"
    tags = ["training"]
    # Raised rather than returned, so the 201 answer is documented as exactly a JobStatus.
    exception_handlers = {
        InvalidProgramError: _invalid_program,
        UnknownBasePolicy: _unknown_base_policy,
        BasePolicyMismatch: _base_policy_mismatch,
    }

    @post("/start", status_code=201, responses=_START_RESPONSES)
    async def start(self, services: NamedDependency[Services], data: JSONBody[JobSpec]) -> JobStatus:
        """Queues a job (it starts at once when the device is free). 404 for an unknown scene (with the valid
        ids) or base policy; 400 for a base policy of another scene; 422 with the validation report when the
        program does not pass."""
        return await start_job(services, data)

    @get("/backends", sync_to_thread=False)
    def backends(self, training: NamedDependency[TrainingManager]) -> BackendsReport:
        """The local device (what JAX sees, and why), whether Modal is configured, and which one new jobs
        use. Never contains credentials."""
        configured, detail = modal_configured()
        settings = training.training_settings
        return BackendsReport(
            selected=settings.backend,
            local=training.device_report,
            local_running=training.running("local"),
            modal=ModalStatus(
                configured=configured,
                detail=detail,
                gpu=GPU,
                max_concurrent=settings.modal_max_concurrent,
                running=training.running("modal"),
            ),
            queued=training.store.count_in_state("queued"),
        )

    @get("/settings", sync_to_thread=False)
    def get_settings(self, training: NamedDependency[TrainingManager]) -> TrainingSettings:
        return training.training_settings

    @put("/settings", sync_to_thread=False)
    def put_settings(
        self, training: NamedDependency[TrainingManager], data: JSONBody[TrainingSettings]
    ) -> TrainingSettings:
        """Saves the training settings (backend for new jobs, Modal limits); 400 on out-of-range values."""
        write_training_settings(training.database, data)
        training.apply_settings(data)
        return data

    @get("/", sync_to_thread=False)
    def list_jobs(self, training: NamedDependency[TrainingManager]) -> list[JobStatus]:
        """Every job, newest first; `history` is left empty here (read it from the job's status)."""
        return training.jobs()

    @get("/{job_id:str}/status", sync_to_thread=False, responses=UNKNOWN_JOB)
    def status(self, training: NamedDependency[TrainingManager], job_id: FromPath[str]) -> JobStatus:
        return training.status(job_id)

    @post("/{job_id:str}/cancel", status_code=200, responses={**UNKNOWN_JOB, **JOB_CONFLICT})
    async def cancel(self, training: NamedDependency[TrainingManager], job_id: FromPath[str]) -> JobStatus:
        """Cancels a queued, running or interrupted job; 409 when it has already finished."""
        return await training.cancel(job_id)

    @post("/{job_id:str}/stop", status_code=200, responses={**UNKNOWN_JOB, **JOB_CONFLICT})
    async def stop(self, training: NamedDependency[TrainingManager], job_id: FromPath[str]) -> JobStatus:
        """Stops a running job and keeps its best evaluation so far as the policy (a job with no finished
        evaluation yet is cancelled: nothing to keep); 409 when the job is not running."""
        return await training.stop(job_id)

    @post(
        "/{job_id:str}/resume",
        status_code=200,
        sync_to_thread=False,
        responses={**UNKNOWN_JOB, **JOB_CONFLICT},
    )
    def resume(self, training: NamedDependency[TrainingManager], job_id: FromPath[str]) -> JobStatus:
        """Queues an interrupted job again (from its checkpoint when `resumable`); 409 otherwise."""
        return training.resume(job_id)

    @get("/{job_id:str}/events", media_type="text/event-stream", responses=UNKNOWN_JOB)
    async def events(
        self, training: NamedDependency[TrainingManager], job_id: FromPath[str]
    ) -> ServerSentEvent:
        """`status` events, each a whole JobStatus, now and on every change; the stream ends after a
        final state or `interrupted`."""
        training.status(job_id)  # an unknown job is a 404 before the stream starts

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            async for status in training.watch(job_id):
                yield ServerSentEventMessage(data=msgspec.json.encode(status).decode(), event="status")

        return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
