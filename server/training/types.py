"""Typed records of training: the job spec, progress events and job status (the saved policy's manifest
is server.policies.manifest)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from server.checks.types import CheckResult, TrainingOutcome

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
Device = Literal["cpu", "gpu"]
BackendName = Literal["local", "modal"]  # this computer's worker process, or a Modal function call


class JobSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything a worker needs to train; stored with the job so a restart can run it again."""

    scene_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    program: Annotated[str, msgspec.Meta(min_length=1, max_length=80_000)]  # a validated reward program
    task_description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    preset: Literal["auto", "cpu_quick", "cpu", "playground"] = "auto"  # auto: by device and scene
    timesteps: Annotated[int, msgspec.Meta(ge=1, le=2_000_000_000)] | None = None  # None: the preset's
    time_budget_s: Annotated[float, msgspec.Meta(gt=0, le=7 * 24 * 3600)] | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0
    base_policy_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None  # fine-tune from this policy
    # The success check (docs/CHECKS.md), judged at every evaluation; None: the job has no check.
    check: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)] | None = None
    # Stop once the check held in every episode for this many evaluations in a row; 0 never stops early.
    early_stop_evals: Annotated[int, msgspec.Meta(ge=0, le=100)] = 2
    # A job that ends without passing its check is revised and trained again, up to this many more rounds.
    reflection_rounds: Annotated[int, msgspec.Meta(ge=0, le=5)] = 2
    # Set by the app for a reflection round: the job it revises, and which round this is (1, 2, ...).
    parent_job_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    round: Annotated[int, msgspec.Meta(ge=0, le=5)] = 0
    # What the reflection round changed and why, for people (set by the app with parent_job_id).
    revision_notes: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=20)
    ] = msgspec.field(default_factory=list)
    # Keep the trained policy as a base for its scene's fine-tune and command tiers ("Prepare a base").
    make_base: bool = False


class TrainingProgress(msgspec.Struct, frozen=True, kw_only=True):
    """One point of progress, emitted at step 0 and after every evaluation."""

    step: int  # environment steps so far
    total_steps: int
    eval_reward: float | None  # mean deterministic episode return under the job's reward program
    reward_terms: dict[str, float]  # mean per-episode sum of each term, as `reward/<name>` is logged
    task_reward: float | None  # the scene's own reward over the same episodes, for comparison
    steps_per_second: float  # measured on the wall clock, not brax's training/sps
    elapsed_s: float
    eta_s: float | None
    reward_term_std: dict[str, float] = msgspec.field(default_factory=dict)  # spread over the eval episodes
    check: CheckResult | None = None  # the success check on this evaluation's rollouts
    # Where the early-stop rule said done: the kept policy's verdict on starts no evaluation saw. The job
    # stops only if it passed; a failure means training goes on.
    confirmation: CheckResult | None = None


class JobStatus(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    state: JobState
    spec: JobSpec
    device: Device
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: TrainingProgress | None  # the latest
    history: list[TrainingProgress]  # every evaluation so far (for the curves)
    error: str | None  # for failed/interrupted: what happened, naming the reward term when known
    policy_id: str | None  # set when succeeded
    resumable: bool  # interrupted with a checkpoint (local) or a live remote call (modal) to resume from
    backend: BackendName = "local"
    outcome: TrainingOutcome | None = None  # for a finished job: the kept checkpoint and its verdict
    next_job_id: str | None = None  # the reflection round that revised this job, once started
