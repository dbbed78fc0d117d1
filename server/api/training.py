"""Training jobs: start one from a validated program, list, watch (Server-Sent Events), cancel, resume.

Handlers read `request.app.state.training`, a `TrainingManager` the app opens in its lifespan. The event
stream is read by the UI with fetch() streaming, since EventSource cannot send the Authorization header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_409_CONFLICT

from server.api.scenes import scene_or_error
from server.rewards.types import ValidationReport
from server.training.backends import DeviceReport
from server.training.jobs import InvalidTransition, UnknownJob
from server.training.library import UnknownPolicy
from server.training.manager import TrainingManager
from server.training.modal_backend import GPU, modal_configured
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


_INVALID_PROGRAM = {
    422: ResponseSpec(
        data_container=ValidationReport,
        generate_examples=False,
        description="The reward program did not pass validation; the report locates each error",
    )
}


def _manager(request: AnyRequest) -> TrainingManager:
    manager: TrainingManager = request.app.state.training
    return manager


def _job(request: AnyRequest, job_id: str) -> JobStatus:
    try:
        return _manager(request).status(job_id)
    except UnknownJob as exc:
        raise NotFoundException(detail=str(exc), extra={"job_id": job_id}) from exc


def _conflict(exc: InvalidTransition) -> HTTPException:
    return HTTPException(
        status_code=HTTP_409_CONFLICT,
        detail=str(exc),
        extra={"job_id": exc.job_id, "state": exc.current},
    )


class InvalidProgramError(Exception):
    """The job's reward program did not validate; answered with the report itself (422)."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__("invalid reward program")
        self.report = report


def _invalid_program(_: AnyRequest, exc: InvalidProgramError) -> Response[ValidationReport]:
    return Response(exc.report, status_code=422)


class TrainingController(Controller):
    path = "/api/training"
    tags = ["training"]
    # Raised rather than returned, so the 201 answer is documented as exactly a JobStatus.
    exception_handlers = {InvalidProgramError: _invalid_program}

    @post("/start", status_code=201, responses=_INVALID_PROGRAM)
    async def start(self, request: AnyRequest, data: JSONBody[JobSpec]) -> JobStatus:
        """Queues a job (it starts at once when the device is free). 404 for an unknown scene (with the valid
        ids) or base policy; 422 with the validation report when the program does not pass."""
        manager = _manager(request)
        await scene_or_error(request, data.scene_id)
        if data.base_policy_id is not None:
            try:
                base = manager.library.get(data.base_policy_id)
            except UnknownPolicy as exc:
                raise NotFoundException(
                    detail=str(exc), extra={"base_policy_id": data.base_policy_id}
                ) from exc
            if base.scene_id != data.scene_id:
                raise HTTPException(
                    status_code=400,
                    detail=(
                        f"base policy '{base.policy_id}' was trained on {base.scene_id}, not {data.scene_id}"
                    ),
                )
        report: ValidationReport = await request.app.state.rewards.validate(data.scene_id, data.program)
        if not report.ok:
            raise InvalidProgramError(report)
        return manager.submit(data)

    @get("/backends", sync_to_thread=False)
    def backends(self, request: AnyRequest) -> BackendsReport:
        """The local device (what JAX sees, and why), whether Modal is configured, and which one new jobs
        use. Never contains credentials."""
        manager = _manager(request)
        configured, detail = modal_configured()
        settings = manager.training_settings
        return BackendsReport(
            selected=settings.backend,
            local=manager.device_report,
            local_running=manager.running("local"),
            modal=ModalStatus(
                configured=configured,
                detail=detail,
                gpu=GPU,
                max_concurrent=settings.modal_max_concurrent,
                running=manager.running("modal"),
            ),
            queued=manager.store.count_in_state("queued"),
        )

    @get("/settings", sync_to_thread=False)
    def get_settings(self, request: AnyRequest) -> TrainingSettings:
        return _manager(request).training_settings

    @put("/settings", sync_to_thread=False)
    def put_settings(self, request: AnyRequest, data: JSONBody[TrainingSettings]) -> TrainingSettings:
        """Saves the training settings (backend for new jobs, Modal limits); 400 on out-of-range values."""
        manager = _manager(request)
        write_training_settings(manager.database, data)
        manager.apply_settings(data)
        return data

    @get("/", sync_to_thread=False)
    def list_jobs(self, request: AnyRequest) -> list[JobStatus]:
        """Every job, newest first; `history` is left empty here (read it from the job's status)."""
        return _manager(request).jobs()

    @get("/{job_id:str}/status", sync_to_thread=False)
    def status(self, request: AnyRequest, job_id: FromPath[str]) -> JobStatus:
        return _job(request, job_id)

    @post("/{job_id:str}/cancel", status_code=200)
    async def cancel(self, request: AnyRequest, job_id: FromPath[str]) -> JobStatus:
        """Cancels a queued, running or interrupted job; 409 when it has already finished."""
        _job(request, job_id)
        try:
            return await _manager(request).cancel(job_id)
        except InvalidTransition as exc:
            raise _conflict(exc) from exc

    @post("/{job_id:str}/resume", status_code=200, sync_to_thread=False)
    def resume(self, request: AnyRequest, job_id: FromPath[str]) -> JobStatus:
        """Queues an interrupted job again (from its checkpoint when `resumable`); 409 otherwise."""
        _job(request, job_id)
        try:
            return _manager(request).resume(job_id)
        except InvalidTransition as exc:
            raise _conflict(exc) from exc

    @get("/{job_id:str}/events", media_type="text/event-stream")
    async def events(self, request: AnyRequest, job_id: FromPath[str]) -> ServerSentEvent:
        """`status` events, each a whole JobStatus, now and on every change; the stream ends after a
        final state or `interrupted`."""
        _job(request, job_id)
        manager = _manager(request)

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            async for status in manager.watch(job_id):
                yield ServerSentEventMessage(data=msgspec.json.encode(status).decode(), event="status")

        return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
