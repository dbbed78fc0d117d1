"""Trained policies on disk: `data_dir/policies/<policy_id>/` holds manifest.json and params.msgpack.

A policy appears in the library only by a directory rename from a staging folder beside it (same file
system), and manifest rewrites are a file rename too, so a reader never sees a half-written policy. Folders
whose names are not policy ids (staging, trash) are never listed.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import uuid
import zipfile
from datetime import datetime
from pathlib import Path

import msgspec

from server.training.types import PolicyManifest

MANIFEST = "manifest.json"
PARAMS = "params.msgpack"
MAX_MANIFEST_BYTES = 16 * 2**20  # metrics history and the program; far below this in practice
MAX_PARAMS_BYTES = 256 * 2**20  # a Go1 policy is a few MB; the bound is what an import may inflate to
MAX_ARCHIVE_BYTES = MAX_MANIFEST_BYTES + MAX_PARAMS_BYTES
_POLICY_ID = re.compile(r"^[0-9a-f]{32}$")


class UnknownPolicy(LookupError):  # noqa: N818 (reads as the condition, like UnknownScene)
    def __init__(self, policy_id: str) -> None:
        super().__init__(f"unknown policy '{policy_id}'")
        self.policy_id = policy_id


class InvalidPolicy(ValueError):  # noqa: N818
    """A policy folder or archive that is not what it claims to be; the message names the problem."""


class PolicySummary(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    scene_id: str
    task: str
    final_eval_reward: float | None
    created_at: datetime


def new_policy_id() -> str:
    return uuid.uuid4().hex


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def read_manifest(folder: Path) -> PolicyManifest:
    """The folder's manifest, checked against its params file; InvalidPolicy says what is wrong."""
    manifest_path, params_path = folder / MANIFEST, folder / PARAMS
    try:
        manifest = msgspec.json.decode(manifest_path.read_bytes(), type=PolicyManifest)
    except FileNotFoundError as exc:
        raise InvalidPolicy(f"{manifest_path.name} is missing") from exc
    except msgspec.DecodeError as exc:
        raise InvalidPolicy(f"{manifest_path.name} is not a policy manifest: {exc}") from exc
    if not params_path.is_file():
        raise InvalidPolicy(f"{PARAMS} is missing")
    if _sha256(params_path) != manifest.params_sha256:
        raise InvalidPolicy(f"{PARAMS} does not match the manifest's params_sha256")
    return manifest


class PolicyLibrary:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "policies"
        self.root.mkdir(parents=True, exist_ok=True)

    # ---- reading --------------------------------------------------------------------------------
    def folder(self, policy_id: str) -> Path:
        """The policy's folder; UnknownPolicy for a malformed id (no path tricks) or a missing one."""
        if not _POLICY_ID.match(policy_id) or not (self.root / policy_id / MANIFEST).is_file():
            raise UnknownPolicy(policy_id)
        return self.root / policy_id

    def get(self, policy_id: str) -> PolicyManifest:
        try:
            return msgspec.json.decode((self.folder(policy_id) / MANIFEST).read_bytes(), type=PolicyManifest)
        except (FileNotFoundError, msgspec.DecodeError) as exc:  # deleted meanwhile, or hand-edited
            raise UnknownPolicy(policy_id) from exc

    def list(self) -> list[PolicySummary]:
        """Newest first; unreadable folders are skipped rather than failing the whole list."""
        summaries = []
        for entry in self.root.iterdir():
            if not _POLICY_ID.match(entry.name):
                continue
            try:
                m = self.get(entry.name)
            except UnknownPolicy:
                continue
            summaries.append(
                PolicySummary(
                    id=entry.name,
                    name=m.name,
                    scene_id=m.scene_id,
                    task=m.task_description,
                    final_eval_reward=m.final_eval_reward,
                    created_at=m.created_at,
                )
            )
        summaries.sort(key=lambda s: s.created_at, reverse=True)
        return summaries

    # ---- writing --------------------------------------------------------------------------------
    def add(self, staging: Path, *, job_id: str | None = None) -> PolicyManifest:
        """Adopts a finished policy folder (the worker's `JOB_DIR/policy`) under a new id by renaming it.

        `staging` must be on the same file system as the library (both live under data_dir). Its params are
        checked against the manifest first, so a truncated or half-written file is never adopted.
        """
        manifest = read_manifest(staging)
        policy_id = new_policy_id()
        manifest = msgspec.structs.replace(
            manifest, policy_id=policy_id, job_id=job_id if job_id is not None else manifest.job_id
        )
        _write_atomic(staging / MANIFEST, msgspec.json.encode(manifest))
        staging.rename(self.root / policy_id)
        return manifest

    def rename(self, policy_id: str, name: str) -> PolicyManifest:
        manifest = msgspec.structs.replace(self.get(policy_id), name=name)
        _write_atomic(self.folder(policy_id) / MANIFEST, msgspec.json.encode(manifest))
        return manifest

    def delete(self, policy_id: str) -> None:
        folder = self.folder(policy_id)
        trash = self.root / f".trash-{uuid.uuid4().hex}"
        folder.rename(trash)  # gone from the listing at once; the slow removal follows
        shutil.rmtree(trash, ignore_errors=True)

    # ---- exchange -------------------------------------------------------------------------------
    def export(self, policy_id: str) -> bytes:
        """One zip with exactly manifest.json and params.msgpack (params stored: they do not compress)."""
        folder = self.folder(policy_id)
        read_manifest(folder)  # never export a damaged policy
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.write(folder / MANIFEST, MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
            archive.write(folder / PARAMS, PARAMS, compress_type=zipfile.ZIP_STORED)
        return buffer.getvalue()

    def import_archive(self, data: bytes) -> tuple[PolicyManifest, bytes]:
        """Reads an exported archive without trusting it: exactly the two members, bounded sizes (checked
        while inflating, so a lying header cannot get past), a manifest that decodes, params matching its
        hash. Scene and program checks need the app's services and are the caller's; then `add_files`."""
        if len(data) > MAX_ARCHIVE_BYTES:
            raise InvalidPolicy(f"the file is larger than {MAX_ARCHIVE_BYTES // 2**20} MiB")
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise InvalidPolicy("not a Robocoach policy file (not a zip archive)") from exc
        with archive:
            names = sorted(info.filename for info in archive.infolist())
            if names != sorted([MANIFEST, PARAMS]):
                raise InvalidPolicy(f"the archive must hold exactly {MANIFEST} and {PARAMS}, not {names}")
            manifest_bytes = _read_bounded(archive, MANIFEST, MAX_MANIFEST_BYTES)
            params = _read_bounded(archive, PARAMS, MAX_PARAMS_BYTES)
        try:
            manifest = msgspec.json.decode(manifest_bytes, type=PolicyManifest)
        except msgspec.DecodeError as exc:
            raise InvalidPolicy(f"{MANIFEST} is not a policy manifest: {exc}") from exc
        if hashlib.sha256(params).hexdigest() != manifest.params_sha256:
            raise InvalidPolicy(f"{PARAMS} does not match the manifest's params_sha256 (damaged or edited)")
        return manifest, params

    def add_files(self, manifest: PolicyManifest, params: bytes) -> PolicyManifest:
        """A checked import, under a new id so an import never overwrites an existing policy."""
        staging = self.root / f".import-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            (staging / PARAMS).write_bytes(params)
            (staging / MANIFEST).write_bytes(msgspec.json.encode(manifest))
            return self.add(staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # only left when add failed


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
