"""The policy library, the app's store of trained policies: `data_dir/policies/<policy_id>/` holds
manifest.json and params.msgpack (server.policies.manifest).

A policy appears in the library only by a directory rename from a staging folder beside it (same file
system), and manifest rewrites are a file rename too, so a reader never sees a half-written policy. Folders
whose names are not policy ids (staging, trash) are never listed. Created in the app's lifespan (and by the
CLI); the training manager adopts finished jobs' policies into it, the API and playback read it.
"""

from __future__ import annotations

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


def new_policy_id() -> str:
    return uuid.uuid4().hex


class PolicyLibrary:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "policies"
        self.root.mkdir(parents=True, exist_ok=True)

    # ---- reading --------------------------------------------------------------------------------
    def folder(self, policy_id: str) -> Path:
        """The policy's folder; UnknownPolicy for a malformed id (no path tricks) or a missing one."""
        if not _POLICY_ID.match(policy_id) or not (self.root / policy_id / MANIFEST_FILE).is_file():
            raise UnknownPolicy(policy_id)
        return self.root / policy_id

    def get(self, policy_id: str) -> PolicyManifest:
        try:
            return read_manifest(self.folder(policy_id))
        except InvalidPolicy as exc:  # deleted meanwhile, or hand-edited
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
                    outcome=m.outcome,
                    created_at=m.created_at,
                    source=m.source,
                    needs_review=m.needs_review,
                )
            )
        summaries.sort(key=lambda s: s.created_at, reverse=True)
        return summaries

    # ---- writing --------------------------------------------------------------------------------
    def add(
        self, staging: Path, *, job_id: str | None = None, source: PolicySource = "trained"
    ) -> PolicyManifest:
        """Adopts a finished policy folder (the worker's `JOB_DIR/policy`) under a new id by renaming it.

        `staging` must be on the same file system as the library (both live under data_dir). Its params are
        checked against the manifest first, so a truncated or half-written file is never adopted. The
        source is this library's to say, never the folder's: an imported one starts unreviewed.
        """
        manifest = read_checked(staging)
        policy_id = new_policy_id()
        manifest = msgspec.structs.replace(
            manifest,
            policy_id=policy_id,
            job_id=job_id if job_id is not None else manifest.job_id,
            source=source,
            program_reviewed_at=None if source == "imported" else manifest.program_reviewed_at,
        )
        write_atomic(staging / MANIFEST_FILE, encode_manifest(manifest))
        staging.rename(self.root / policy_id)
        return manifest

    def rename(self, policy_id: str, name: str) -> PolicyManifest:
        manifest = msgspec.structs.replace(self.get(policy_id), name=name)
        write_atomic(self.folder(policy_id) / MANIFEST_FILE, encode_manifest(manifest))
        return manifest

    def mark_reviewed(self, policy_id: str) -> PolicyManifest:
        """The user has read the policy's reward program: it may play. Idempotent (the first time stays)."""
        manifest = self.get(policy_id)
        if manifest.program_reviewed_at is not None:
            return manifest
        manifest = msgspec.structs.replace(manifest, program_reviewed_at=datetime.now(UTC))
        write_atomic(self.folder(policy_id) / MANIFEST_FILE, encode_manifest(manifest))
        return manifest

    def delete(self, policy_id: str) -> None:
        folder = self.folder(policy_id)
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
