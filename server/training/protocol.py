"""The files between the job manager (API process) and a training worker process; the protocol itself is
described in server/training/worker.py. One definition, so the two sides cannot drift apart."""

from __future__ import annotations

import msgspec

from server.policies.manifest import PolicyManifest
from server.training.types import JobSpec, TrainingProgress

JOB_FILE = "job.json"
EVENTS_FILE = "events.jsonl"
POLICY_DIR = "policy"  # the finished policy's folder in the job folder, adopted by the library
BEST_DIR = "best"  # the best evaluation so far, as a complete policy folder (kept when a job is stopped)
# The newest params, as a complete policy folder for the live preview (docs/PREVIEW.md): written when the job
# starts (untrained params, or the fine-tune's base) and after every evaluation. Its manifest's
# metrics_history is the job's history up to these params (empty: not yet evaluated).
LIVE_DIR = "live"


class Job(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    spec: JobSpec
    scene_cache_dir: str
    resume: bool = False
    base_params_dir: str | None = None
    job_id: str | None = None
    policy_id: str | None = None


class ProgressEvent(msgspec.Struct, tag_field="type", tag="progress"):
    progress: TrainingProgress


class SucceededEvent(msgspec.Struct, tag_field="type", tag="succeeded"):
    manifest: PolicyManifest


class FailedEvent(msgspec.Struct, tag_field="type", tag="failed"):
    error: str


Event = ProgressEvent | SucceededEvent | FailedEvent
