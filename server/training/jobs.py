"""Training jobs in SQLite: one row per job, its state machine enforced here so no caller can skip a step.

queued -> running | cancelled
running -> succeeded | failed | cancelled | interrupted
interrupted -> queued (resume) | cancelled
succeeded, failed and cancelled are final.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime

import msgspec

from server.checks.types import TrainingOutcome
from server.storage.database import Database
from server.training.types import BackendName, Device, JobSpec, JobState, JobStatus, TrainingProgress

TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "cancelled"}),
    "running": frozenset({"succeeded", "failed", "cancelled", "interrupted"}),
    "interrupted": frozenset({"queued", "cancelled"}),
    "succeeded": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}
_STAMPED = {"running": "started_at", "succeeded": "finished_at", "failed": "finished_at"}


class UnknownJob(LookupError):  # noqa: N818 (reads as the condition, like UnknownScene)
    def __init__(self, job_id: str) -> None:
        super().__init__(f"unknown training job '{job_id}'")
        self.job_id = job_id


class InvalidTransition(RuntimeError):  # noqa: N818
    def __init__(self, job_id: str, current: str, wanted: str) -> None:
        super().__init__(f"job '{job_id}' is {current}; it cannot become {wanted}")
        self.job_id = job_id
        self.current = current
        self.wanted = wanted


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _status(row: sqlite3.Row, *, with_history: bool = True) -> JobStatus:
    def stamp(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    created = datetime.fromisoformat(row["created_at"])
    return JobStatus(
        job_id=row["id"],
        state=row["state"],
        spec=msgspec.json.decode(row["spec"], type=JobSpec),
        device=row["device"],
        created_at=created,
        started_at=stamp(row["started_at"]),
        finished_at=stamp(row["finished_at"]),
        progress=msgspec.json.decode(row["progress"], type=TrainingProgress) if row["progress"] else None,
        history=msgspec.json.decode(row["history"], type=list[TrainingProgress]) if with_history else [],
        error=row["error"],
        policy_id=row["policy_id"],
        resumable=bool(row["resumable"]),
        backend=row["backend"],
        outcome=msgspec.json.decode(row["outcome"], type=TrainingOutcome) if row["outcome"] else None,
        next_job_id=row["next_job_id"],
    )


class JobStore:
    """Reads and writes `training_jobs`; every write is one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, spec: JobSpec, device: Device, backend: BackendName = "local") -> JobStatus:
        job_id = uuid.uuid4().hex
        with self.database.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM training_jobs").fetchone()[0]
            db.execute(
                "INSERT INTO training_jobs (id, state, spec, device, created_at, queue_seq, backend) "
                "VALUES (?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, msgspec.json.encode(spec).decode(), device, _iso(_now()), seq, backend),
            )
        return self.get(job_id)

    def get(self, job_id: str) -> JobStatus:
        rows = self.database.query("SELECT * FROM training_jobs WHERE id = ?", (job_id,))
        if not rows:
            raise UnknownJob(job_id)
        return _status(rows[0])

    def all(self) -> list[JobStatus]:
        """Newest first, without history (the list view needs the latest point only)."""
        columns = (
            "id, state, spec, device, created_at, started_at, finished_at, progress, error, policy_id, "
            "resumable, backend, outcome, next_job_id"
        )
        rows = self.database.query(
            f"SELECT {columns} FROM training_jobs ORDER BY created_at DESC, rowid DESC"  # noqa: S608 (fixed column names)
        )
        return [_status(row, with_history=False) for row in rows]

    def ids_in_state(self, state: JobState) -> list[str]:
        rows = self.database.query(
            "SELECT id FROM training_jobs WHERE state = ? ORDER BY queue_seq", (state,)
        )
        return [row["id"] for row in rows]

    def count_in_state(self, state: JobState) -> int:
        rows = self.database.query("SELECT COUNT(*) AS n FROM training_jobs WHERE state = ?", (state,))
        return int(rows[0]["n"])

    def next_queued(self, backend: BackendName | None = None) -> str | None:
        """The oldest queued job (of one backend when given)."""
        if backend is None:
            rows = self.database.query(
                "SELECT id FROM training_jobs WHERE state = 'queued' ORDER BY queue_seq LIMIT 1"
            )
        else:
            rows = self.database.query(
                "SELECT id FROM training_jobs WHERE state = 'queued' AND backend = ? "
                "ORDER BY queue_seq LIMIT 1",
                (backend,),
            )
        return rows[0]["id"] if rows else None

    def backend_of(self, job_id: str) -> BackendName:
        rows = self.database.query("SELECT backend FROM training_jobs WHERE id = ?", (job_id,))
        if not rows:
            raise UnknownJob(job_id)
        backend: BackendName = rows[0]["backend"]
        return backend

    def run_info(self, job_id: str) -> tuple[bool, int | None, int]:
        """(resume from checkpoint, recorded worker pid, attempts so far)."""
        rows = self.database.query("SELECT resume, pid, attempt FROM training_jobs WHERE id = ?", (job_id,))
        if not rows:
            raise UnknownJob(job_id)
        return bool(rows[0]["resume"]), rows[0]["pid"], int(rows[0]["attempt"])

    def transition(
        self,
        job_id: str,
        state: JobState,
        *,
        error: str | None = None,
        policy_id: str | None = None,
        resumable: bool = False,
        resume: bool | None = None,
        outcome: TrainingOutcome | None = None,
        next_job_id: str | None = None,
    ) -> JobStatus:
        """Moves the job to `state` or raises InvalidTransition; the check and the write are one transaction,
        so two callers racing (cancel vs. the worker finishing) cannot both win."""
        with self.database.transaction() as db:
            row = db.execute("SELECT state FROM training_jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownJob(job_id)
            current = row["state"]
            if state not in TRANSITIONS[current]:
                raise InvalidTransition(job_id, current, state)
            sets = ["state = ?", "error = ?", "resumable = ?"]
            values: list[object] = [state, error, int(resumable)]
            if state in _STAMPED:
                sets.append(f"{_STAMPED[state]} = ?")
                values.append(_iso(_now()))
            if state in ("cancelled", "interrupted"):
                sets.append("finished_at = ?")
                values.append(_iso(_now()))
            if state == "running":
                sets += ["attempt = attempt + 1", "finished_at = NULL"]
            if state == "queued":  # back of the queue
                sets.append("queue_seq = (SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM training_jobs)")
            if state != "running":
                sets.append("pid = NULL")
            if policy_id is not None:
                sets.append("policy_id = ?")
                values.append(policy_id)
            if resume is not None:
                sets.append("resume = ?")
                values.append(int(resume))
            if outcome is not None:
                sets.append("outcome = ?")
                values.append(msgspec.json.encode(outcome).decode())
            if next_job_id is not None:
                sets.append("next_job_id = ?")
                values.append(next_job_id)
            db.execute(f"UPDATE training_jobs SET {', '.join(sets)} WHERE id = ?", (*values, job_id))  # noqa: S608 (fixed column names)
        return self.get(job_id)

    def set_pid(self, job_id: str, pid: int) -> None:
        with self.database.transaction() as db:
            db.execute("UPDATE training_jobs SET pid = ? WHERE id = ?", (pid, job_id))

    def add_progress(self, job_id: str, progress: TrainingProgress) -> None:
        """Latest point and history in one write. A resumed run repeats evaluations past its checkpoint;
        points at or before a step already recorded replace the later ones, so the curve never folds back."""
        with self.database.transaction() as db:
            row = db.execute("SELECT history FROM training_jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownJob(job_id)
            history = msgspec.json.decode(row["history"], type=list[TrainingProgress])
            history = [point for point in history if point.step < progress.step] + [progress]
            db.execute(
                "UPDATE training_jobs SET progress = ?, history = ? WHERE id = ?",
                (msgspec.json.encode(progress).decode(), msgspec.json.encode(history).decode(), job_id),
            )
