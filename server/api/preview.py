"""`WS /api/jobs/{job_id}/preview`: the live preview of a training job (docs/PREVIEW.md). The protocol is
live playback's (docs/INFERENCE_PROTOCOL.md) plus PolicyUpdate messages saying which params play; the
policy played is the job's live/ folder, reloaded by its worker each time the job writes newer params.

A socket opened before the job wrote live/ (queued, or just started) waits for it, showing a "compiling"
status; a job that ended without writing it closes the socket with 4422 and the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from litestar import websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from server.api.inference import AnySocket, close_reason, play
from server.inference.protocol import CLOSE_UNKNOWN_MODEL, CLOSE_UNPLAYABLE, Status, encode
from server.inference.service import InferenceService, PlaybackUnavailable
from server.policies.manifest import MANIFEST_FILE
from server.training.jobs import UnknownJob
from server.training.manager import STREAM_END_STATES, TrainingManager, end_note
from server.training.protocol import LIVE_DIR
from server.training.types import FINAL_STATES, JobStatus

POLL_S = 0.5  # how often a socket waiting for the job's first policy looks for it
WAITING = "waiting for the job's first policy"


async def _wait_for_live(
    socket: AnySocket, training: TrainingManager, job_id: str, live: Path
) -> JobStatus | None:
    """The job's status once its live/ folder is complete (its manifest, written last, is there), at once
    when it already is; None when the socket was closed (an unknown or deleted job: 4404; a job that ended
    without one: 4422) or the browser left."""
    receiving: asyncio.Future[Any] | None = None
    try:
        while True:
            try:
                status = training.status(job_id)
            except UnknownJob as exc:
                await socket.close(code=CLOSE_UNKNOWN_MODEL, reason=close_reason(str(exc)))
                return None
            if (live / MANIFEST_FILE).is_file():
                return status
            if status.state in STREAM_END_STATES:
                reason = f"the job is {status.state} and never wrote a policy to preview"
                await socket.close(code=CLOSE_UNPLAYABLE, reason=close_reason(reason))
                return None
            if receiving is None:  # said once, when the job has not ended
                await socket.send_bytes(encode(Status(phase="compiling", message=WAITING)))
                receiving = asyncio.ensure_future(socket.receive())
            await asyncio.wait({receiving}, timeout=POLL_S)
            if receiving.done():
                if receiving.result()["type"] == "websocket.disconnect":
                    return None
                receiving = asyncio.ensure_future(socket.receive())  # nothing to play yet: dropped
    finally:
        if receiving is not None:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiving


@websocket("/api/jobs/{job_id:str}/preview")
async def preview_job(
    socket: AnySocket,
    training: NamedDependency[TrainingManager],
    inference: NamedDependency[InferenceService],
    job_id: FromPath[str],
) -> None:
    """Play a training job's newest params live: the playback protocol (docs/INFERENCE_PROTOCOL.md) with a
    PolicyUpdate after the Hello and each time the params change or the job ends. 4404: unknown job."""
    await socket.accept()
    live = training.job_dir(job_id) / LIVE_DIR  # only looked at once the job is known (_wait_for_live)
    try:
        if await _wait_for_live(socket, training, job_id, live) is None:
            return
        link = await inference.open_preview(job_id, live)
    except PlaybackUnavailable as exc:
        await socket.close(code=exc.close_code, reason=close_reason(str(exc)))
        return
    except (WebSocketDisconnect, ConnectionError):
        return
    # Read after the worker is registered: a job that ends from now on reaches it through the manager's
    # preview_ended; one that ended before is ended here (preview_ended is idempotent).
    with contextlib.suppress(UnknownJob):
        status = training.status(job_id)
        if status.state in FINAL_STATES:
            inference.preview_ended(job_id, end_note(status))
    await play(socket, link, f"the preview of job {job_id}")
