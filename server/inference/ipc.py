"""Framing between the API process and an inference worker: length-prefixed msgpack over its stdin and
stdout. No JAX here. The worker answers each request with the frames for that session, in order.

Session id -1 is the worker itself: its first message is either `[Hello]` (compiled and ready) or
`[Error]` (it cannot play this policy; it exits). A "reload" request (session -1; live preview,
docs/PREVIEW.md) makes it read its policy folder again and swap in the params found there; it answers
`[PolicyUpdate]` on session -1: the params now playing, with a note when the folder's could not be used.
"""

from __future__ import annotations

from typing import IO, Literal

import msgspec

from server import framing

WORKER_SESSION = -1
MAX_MESSAGE_BYTES = 64 * 2**20


class ToWorker(msgspec.Struct, frozen=True, array_like=True):
    session: int
    kind: Literal["open", "frame", "close", "reload"]
    frame: bytes = b""


class FromWorker(msgspec.Struct, frozen=True, array_like=True):
    session: int
    frames: list[bytes]  # encoded server messages (server.inference.protocol), to send as they are


_encoder = msgspec.msgpack.Encoder()
_to_worker = msgspec.msgpack.Decoder(ToWorker)
_from_worker = msgspec.msgpack.Decoder(FromWorker)


def pack(message: ToWorker | FromWorker) -> bytes:
    return framing.frame(_encoder.encode(message))


def length_of(header: bytes) -> int:
    return framing.body_size(header, MAX_MESSAGE_BYTES)


HEADER_BYTES = framing.HEADER_BYTES


def decode_to_worker(body: bytes) -> ToWorker:
    message: ToWorker = _to_worker.decode(body)
    return message


def decode_from_worker(body: bytes) -> FromWorker:
    message: FromWorker = _from_worker.decode(body)
    return message


def read_blocking(stream: IO[bytes]) -> bytes | None:
    """One message body from a blocking stream; None at end of stream."""
    return framing.read_frame(stream, MAX_MESSAGE_BYTES)
