"""The policy library, the app's store of trained policies: `data_dir/policies/<policy_id>/` holds
manifest.json and params.msgpack (server.policies.manifest), and clip.webp when its clip could be made
(server.policies.clip). Beside them, read-only, the base policies shipped with the app
(`scenes/bases/<SceneId>/`, the same files; Settings.bases_dir): listed, played,
exported and fine-tuned from like the user's, never renamed or deleted.

A policy appears in the library only by a directory rename from a staging folder beside it (same file
system), and manifest rewrites are a file rename too, so a reader never sees a half-written policy. Folders
whose names are not policy ids (staging, trash) are never listed. Created in the app's lifespan (and by the
CLI); the training manager adopts finished jobs' policies into it, the API and playback read it.
"""

from __future__ import annotations

import builtins
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import msgspec

from server.checks.types import TrainingOutcome
from server.files import write_atomic
from server.policies import archive
from server.policies.manifest import (
    CLIP_FILE,
    MANIFEST_FILE,
    PARAMS_FILE,
    InvalidPolicy,
    PolicyManifest,
    PolicySource,
    encode_manifest,
    read_checked,
    read_manifest,
)

_POLICY_ID = re.compile(r"^[0-9a-f]{32}$")


class UnknownPolicy(LookupError):  # noqa: N818 (reads as the condition, like UnknownScene)
    def __init__(self, policy_id: str) -> None:
        super().__init__(f"unknown policy '{policy_id}'")
        self.policy_id = policy_id


class PolicyProtected(Exception):  # noqa: N818 (reads as the condition)
    """A change the library refuses for this policy (a shipped base, or a base the user has not unmarked)."""

    def __init__(self, policy_id: str, reason: str) -> None:
        super().__init__(reason)
        self.policy_id = policy_id


BaseKind = Literal["shipped", "user"]


class PolicySummary(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    scene_id: str
    task: str
    final_eval_reward: float | None
    created_at: datetime
    source: PolicySource = "trained"
    needs_review: bool = False  # imported and its program not yet read: it cannot play
    outcome: TrainingOutcome | None = None  # the kept checkpoint and its success-check verdict
    # A base policy for the command and fine-tune tiers: "shipped" with the app (read-only, cannot be
    # deleted), or "user" (one of the user's own, marked as a base; protected from deletion while marked).
    base: BaseKind | None = None
    clip: bool = False  # a clip of the policy at GET /api/models/{id}/clip (animated WebP)


def new_policy_id() -> str:
    return uuid.uuid4().hex


def summary_of(manifest: PolicyManifest, *, shipped: bool = False, clip: bool = False) -> PolicySummary:
    return PolicySummary(
        id=manifest.policy_id,
        name=manifest.name,
        scene_id=manifest.scene_id,
        task=manifest.task_description,
        final_eval_reward=manifest.final_eval_reward,
        outcome=manifest.outcome,
        created_at=manifest.created_at,
        source=manifest.source,
        needs_review=manifest.needs_review,
        base="shipped" if shipped else "user" if manifest.is_base else None,
        clip=clip,
    )


class PolicyLibrary:
    def __init__(self, data_dir: Path, *, shipped_dir: Path | None = None) -> None:
        self.root = data_dir / "policies"
        self.root.mkdir(parents=True, exist_ok=True)
        self.shipped_dir = shipped_dir  # None: no shipped bases (tests, tools)

    # ---- reading --------------------------------------------------------------------------------
    def _shipped(self) -> dict[str, tuple[Path, PolicyManifest]]:
        """policy id -> (folder, manifest) of every readable shipped base (a handful of small files: read
        each time, so a base built while the app runs appears without a restart)."""
        found: dict[str, tuple[Path, PolicyManifest]] = {}
        if self.shipped_dir is None or not self.shipped_dir.is_dir():
            return found
        for entry in sorted(self.shipped_dir.iterdir()):
            try:
                manifest = read_manifest(entry)
            except (InvalidPolicy, OSError):
                continue
            if _POLICY_ID.match(manifest.policy_id):
                found[manifest.policy_id] = (entry, manifest)
        return found

    def _is_users(self, folder: Path) -> bool:
        """Whether a folder `folder()` gave is one of the user's (else a shipped base)."""
        return folder.parent == self.root

    def folder(self, policy_id: str) -> Path:
        """The policy's folder; UnknownPolicy for a malformed id (no path tricks) or a missing one."""
        if not _POLICY_ID.match(policy_id):
            raise UnknownPolicy(policy_id)
        if (self.root / policy_id / MANIFEST_FILE).is_file():
            return self.root / policy_id
        shipped = self._shipped().get(policy_id)
        if shipped is None:
            raise UnknownPolicy(policy_id)
        return shipped[0]

    def get(self, policy_id: str) -> PolicyManifest:
        try:
            return read_manifest(self.folder(policy_id))
        except InvalidPolicy as exc:  # deleted meanwhile, or hand-edited
            raise UnknownPolicy(policy_id) from exc

    def list(self) -> list[PolicySummary]:
        """The user's policies newest first, then the shipped bases; unreadable folders are skipped rather
        than failing the whole list."""
        summaries = []
        for entry in self.root.iterdir():
            if not _POLICY_ID.match(entry.name):
                continue
            try:
                m = self.get(entry.name)
            except UnknownPolicy:
                continue
            summary = summary_of(m, clip=(entry / CLIP_FILE).is_file())
            summaries.append(msgspec.structs.replace(summary, id=entry.name))
        summaries.sort(key=lambda s: s.created_at, reverse=True)
        summaries += [
            summary_of(manifest, shipped=True, clip=(folder / CLIP_FILE).is_file())
            for folder, manifest in self._shipped().values()
        ]
        return summaries

    def bases(self, scene_id: str | None = None) -> builtins.list[PolicySummary]:  # `list` is a method here
        """The base policies (for one scene): shipped first, then the user's newest first."""
        found = [s for s in self.list() if s.base is not None and scene_id in (None, s.scene_id)]
        return sorted(found, key=lambda s: s.base != "shipped")  # stable: the user's stay newest first

    # ---- writing --------------------------------------------------------------------------------
    def add(
        self,
        staging: Path,
        *,
        job_id: str | None = None,
        source: PolicySource = "trained",
        is_base: bool = False,
    ) -> PolicyManifest:
        """Adopts a finished policy folder (the worker's `JOB_DIR/policy`) under a new id by renaming it.

        `staging` must be on the same file system as the library (both live under data_dir). Its params are
        checked against the manifest first, so a truncated or half-written file is never adopted. The
        source and whether it is a base are this library's to say, never the folder's: an imported one
        starts unreviewed and not a base.
        """
        manifest = read_checked(staging)
        policy_id = new_policy_id()
        manifest = msgspec.structs.replace(
            manifest,
            policy_id=policy_id,
            job_id=job_id if job_id is not None else manifest.job_id,
            source=source,
            program_reviewed_at=None if source == "imported" else manifest.program_reviewed_at,
            is_base=is_base,
        )
        write_atomic(staging / MANIFEST_FILE, encode_manifest(manifest))
        staging.rename(self.root / policy_id)
        return manifest

    def _writable(self, policy_id: str) -> Path:
        """The folder of one of the user's policies; PolicyProtected for a shipped base."""
        folder = self.folder(policy_id)
        if not self._is_users(folder):
            raise PolicyProtected(policy_id, "a shipped base is read-only")
        return folder

    def rename(self, policy_id: str, name: str) -> PolicyManifest:
        folder = self._writable(policy_id)
        manifest = msgspec.structs.replace(self.get(policy_id), name=name)
        write_atomic(folder / MANIFEST_FILE, encode_manifest(manifest))
        return manifest

    def set_base(self, policy_id: str, is_base: bool) -> PolicySummary:
        """Marks one of the user's policies as a base for fine-tuning and commands (or unmarks it).
        Idempotent; a shipped base is always one (PolicyProtected when asked to unmark it)."""
        folder = self.folder(policy_id)
        manifest = self.get(policy_id)
        clip = (folder / CLIP_FILE).is_file()
        if not self._is_users(folder):
            if not is_base:
                raise PolicyProtected(policy_id, "a shipped base cannot be unmarked")
            return summary_of(manifest, shipped=True, clip=clip)
        if manifest.is_base != is_base:
            manifest = msgspec.structs.replace(manifest, is_base=is_base)
            write_atomic(folder / MANIFEST_FILE, encode_manifest(manifest))
        return summary_of(manifest, clip=clip)

    def clip(self, policy_id: str) -> bytes | None:
        """The policy's clip (an animated WebP), None when it has none; UnknownPolicy for an unknown id."""
        try:
            return (self.folder(policy_id) / CLIP_FILE).read_bytes()
        except FileNotFoundError:
            return None

    def mark_reviewed(self, policy_id: str) -> PolicyManifest:
        """The user has read the policy's reward program: it may play. Idempotent (the first time stays)."""
        folder = self.folder(policy_id)
        manifest = self.get(policy_id)
        if manifest.program_reviewed_at is not None or not self._is_users(folder):
            return manifest  # a shipped base is the app's own: nothing to review, nothing to write
        manifest = msgspec.structs.replace(manifest, program_reviewed_at=datetime.now(UTC))
        write_atomic(folder / MANIFEST_FILE, encode_manifest(manifest))
        return manifest

    def delete(self, policy_id: str) -> None:
        """PolicyProtected for a base: a shipped one never goes, a user's must be unmarked first."""
        try:
            folder = self._writable(policy_id)
        except PolicyProtected as exc:
            raise PolicyProtected(policy_id, "a shipped base cannot be deleted") from exc
        if self.get(policy_id).is_base:
            raise PolicyProtected(
                policy_id, "this policy is a base for fine-tuning: unmark it as a base first"
            )
        trash = self.root / f".trash-{uuid.uuid4().hex}"
        folder.rename(trash)  # gone from the listing at once; the slow removal follows
        shutil.rmtree(trash, ignore_errors=True)

    # ---- exchange -------------------------------------------------------------------------------
    def export(self, policy_id: str) -> bytes:
        """The `.robocoach` archive of the policy; InvalidPolicy if its files are damaged."""
        return archive.pack(self.folder(policy_id))

    def add_imported(self, manifest: PolicyManifest, params: bytes) -> PolicyManifest:
        """An import already read by `archive.unpack` and whose scene and program the caller has checked,
        under a new id (an import never overwrites a policy), marked imported and unreviewed."""
        staging = self.root / f".import-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            write_atomic(staging / PARAMS_FILE, params)
            write_atomic(staging / MANIFEST_FILE, encode_manifest(manifest))
            return self.add(staging, source="imported")
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # only left when add failed
