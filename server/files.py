"""Writing and hashing files: one atomic write and one sha256 for the whole server.

`write_atomic` writes a temp file in the target's folder and renames it over the target (same file system,
so the rename is atomic): a reader, or a process killed mid-write, never leaves or sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

_CHUNK = 2**20


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` in one rename, after an fsync. `mode` (e.g. 0o600 for secrets) is set on
    the temp file before any byte is written, so the content is never readable under a wider mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None and os.name == "posix":
            os.fchmod(fd, mode)  # mkstemp already makes it 0600; this guards odd platforms and modes
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks (policy params can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
