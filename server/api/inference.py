"""`WS /api/models/{policy_id}/inference`: live playback of a trained policy (docs/INFERENCE_PROTOCOL.md),
and `POST /api/models/{policy_id}/warm`, which starts the policy's worker ahead of the first socket.

The handler relays binary frames between the browser and the policy's inference worker; it never
decodes state arrays or runs model code itself. The token and Host/Origin checks happen before this
runs (server.security), as for every /api path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from litestar import WebSocket, post, websocket
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, WebSocketDisconnect
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_422_UNPROCESSABLE_ENTITY

from server.api.errors import UNKNOWN_POLICY, ErrorBody
from server.inference.protocol import (
    CLOSE_UNKNOWN_MODEL,
    CLOSE_UNPLAYABLE,
    MAX_FRAME_BYTES,
    Error,
    Status,
    encode,
)
from server.inference.service import (
    InferenceService,
    PlaybackLink,
    PlaybackUnavailable,
    PolicyNeedsReview,
)
from server.policies.library import PolicyLibrary, UnknownPolicy

log = logging.getLogger(__name__)
AnySocket = WebSocket[Any, Any, Any]
_REASON_BYTES = 120  # a close reason must fit in 123 bytes


def close_reason(text: str) -> str:
    encoded = text.encode()[:_REASON_BYTES]
    return encoded.decode(errors="ignore")


async def _client_to_worker(socket: AnySocket, link: PlaybackLink) -> None:
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return
        frame = message.get("bytes")
        if not isinstance(frame, bytes):
            reply = Error(code="bad_frame", message="text frames are not part of the protocol; send binary")
            await socket.send_bytes(encode(reply))
        elif len(frame) > MAX_FRAME_BYTES:
            reply = Error(code="bad_frame", message=f"frame larger than {MAX_FRAME_BYTES} bytes")
            await socket.send_bytes(encode(reply))
        else:
            link.send(frame)


async def _worker_to_client(socket: AnySocket, link: PlaybackLink) -> None:
    while (frame := await link.replies.get()) is not None:
        await socket.send_bytes(frame)
    code, reason = link.end
    await socket.close(code=code, reason=close_reason(reason))


async def _relay(socket: AnySocket, link: PlaybackLink) -> None:
    tasks = [
        asyncio.ensure_future(_client_to_worker(socket, link)),
        asyncio.ensure_future(_worker_to_client(socket, link)),
    ]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect | ConnectionError):
                raise exc
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, ConnectionError):
                await task


@websocket("/api/models/{policy_id:str}/inference")
async def play_policy(
    socket: AnySocket,
    policies: NamedDependency[PolicyLibrary],
    inference: NamedDependency[InferenceService],
    policy_id: FromPath[str],
) -> None:
    """Play a trained policy: binary msgpack frames, protocol version 1 (docs/INFERENCE_PROTOCOL.md)."""
    await socket.accept()
    try:
        policies.get(policy_id)
    except UnknownPolicy as exc:
        await socket.close(code=CLOSE_UNKNOWN_MODEL, reason=close_reason(str(exc)))
        return
    try:
        link = await inference.open(policy_id, policies.folder(policy_id))
    except PlaybackUnavailable as exc:
        await socket.close(code=exc.close_code, reason=close_reason(str(exc)))
        return
    await play(socket, link, f"policy {policy_id}")


async def play(socket: AnySocket, link: PlaybackLink, what: str) -> None:
    """The socket's session on `link`, from its worker's compile to the end; closes the link. Shared with
    the live preview of a training job (server/api/preview.py)."""
    try:
        if not link.ready:
            await socket.send_bytes(encode(Status(phase="compiling", message="compiling the policy")))
        try:
            hello = await link.hello()
        except PlaybackUnavailable as exc:
            log.warning("%s cannot be played: %s", what, exc)
            await socket.send_bytes(encode(Error(code="internal", message=str(exc))))
            await socket.close(code=CLOSE_UNPLAYABLE, reason=close_reason(str(exc)))
            return
        await socket.send_bytes(encode(Status(phase="ready")))
        await socket.send_bytes(hello)
        await _relay(socket, link)
    except (WebSocketDisconnect, ConnectionError):
        pass
    finally:
        link.close()


class PlaybackWarm(msgspec.Struct, frozen=True, kw_only=True):
    policy_id: str
    ready: bool  # the worker has compiled: a socket opened now gets its hello at once


@post(
    "/api/models/{policy_id:str}/warm",
    status_code=202,
    tags=["models"],
    responses={
        **UNKNOWN_POLICY,
        409: ResponseSpec(
            data_container=ErrorBody,
            generate_examples=False,
            description="An imported policy whose reward program the user has not confirmed reading",
        ),
        422: ResponseSpec(
            data_container=ErrorBody, generate_examples=False, description="The policy cannot be played"
        ),
    },
)
async def warm_policy(
    policies: NamedDependency[PolicyLibrary],
    inference: NamedDependency[InferenceService],
    policy_id: FromPath[str],
) -> PlaybackWarm:
    """Starts the policy's playback worker and its compile now (idempotent), so the first socket's hello
    is immediate; `ready` says whether it has compiled (ask again to know). A worker no socket uses stops
    after the usual idle time. 409 for an imported policy not yet reviewed, as playback refuses it."""
    policies.get(policy_id)  # UnknownPolicy: 404
    try:
        ready = await inference.warm(policy_id, policies.folder(policy_id))
    except PolicyNeedsReview as exc:
        raise HTTPException(status_code=HTTP_409_CONFLICT, detail=str(exc)) from exc
    except PlaybackUnavailable as exc:
        raise HTTPException(status_code=HTTP_422_UNPROCESSABLE_ENTITY, detail=str(exc)) from exc
    return PlaybackWarm(policy_id=policy_id, ready=ready)
