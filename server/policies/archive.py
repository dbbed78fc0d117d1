"""The `.robocoach` exchange file: one zip holding exactly manifest.json and params.msgpack.

Reading one trusts nothing: exactly the two members, bounded sizes (checked while inflating, so a lying
header cannot get past), a manifest that decodes, params matching its hash. What the archive cannot say
(a scene this Robocoach has, a reward program that passes validation) is checked by the import's caller.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from server.files import sha256_bytes
from server.policies.manifest import (
    MANIFEST_FILE,
    PARAMS_FILE,
    InvalidPolicy,
    PolicyManifest,
    check_params_hash,
    decode_manifest,
    read_checked,
)

MAX_MANIFEST_BYTES = 16 * 2**20  # metrics history and the program; far below this in practice
MAX_PARAMS_BYTES = 256 * 2**20  # a Go1 policy is a few MB; the bound is what an import may inflate to
MAX_ARCHIVE_BYTES = MAX_MANIFEST_BYTES + MAX_PARAMS_BYTES


def pack(folder: Path) -> bytes:
    """The policy folder as one archive (params stored: they do not compress). A damaged policy is refused."""
    read_checked(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(folder / MANIFEST_FILE, MANIFEST_FILE, compress_type=zipfile.ZIP_DEFLATED)
        archive.write(folder / PARAMS_FILE, PARAMS_FILE, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def unpack(data: bytes) -> tuple[PolicyManifest, bytes]:
    """(manifest, params bytes) of an archive, checked as the module says; InvalidPolicy names the problem."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise InvalidPolicy(f"the file is larger than {MAX_ARCHIVE_BYTES // 2**20} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidPolicy("not a Robocoach policy file (not a zip archive)") from exc
    with archive:
        names = sorted(info.filename for info in archive.infolist())
        if names != sorted([MANIFEST_FILE, PARAMS_FILE]):
            expected = f"exactly {MANIFEST_FILE} and {PARAMS_FILE}"
            raise InvalidPolicy(f"the archive must hold {expected}, not {names}")
        manifest_bytes = _read_bounded(archive, MANIFEST_FILE, MAX_MANIFEST_BYTES)
        params = _read_bounded(archive, PARAMS_FILE, MAX_PARAMS_BYTES)
    manifest = decode_manifest(manifest_bytes)
    check_params_hash(sha256_bytes(params), manifest)
    return manifest, params


def _read_bounded(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise InvalidPolicy(f"{name} inflates to {info.file_size} bytes; the limit is {limit}")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
        raise InvalidPolicy(f"{name} cannot be read: {exc}") from exc
    if len(data) > limit:
        raise InvalidPolicy(f"{name} inflates past {limit} bytes")
    return data
