"""Length-prefixed frames over a worker's pipes: a big-endian 32-bit length, then that many bytes.

The reward trace worker and the inference worker both talk to the API process this way; each module
that uses it sets its own size limit. No JAX here.
"""

from __future__ import annotations

import struct
from typing import IO

_HEADER = struct.Struct(">I")
HEADER_BYTES = _HEADER.size


def frame(body: bytes) -> bytes:
    return _HEADER.pack(len(body)) + body


def body_size(header: bytes, limit: int) -> int:
    """The body length a header announces; ValueError above `limit` (a corrupted or hostile stream)."""
    (size,) = _HEADER.unpack(header)
    if size > limit:
        raise ValueError(f"frame of {size} bytes is over the limit of {limit}")
    return int(size)


def read_frame(stream: IO[bytes], limit: int) -> bytes | None:
    """One frame's body from a blocking stream; None at end of stream, also in the middle of a frame."""
    header = stream.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        return None
    size = body_size(header, limit)
    body = stream.read(size)
    return body if len(body) == size else None
