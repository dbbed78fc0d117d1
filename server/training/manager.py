"""Runs training jobs as worker processes, one per device at a time, the rest queued (FIFO) in SQLite.

Each job has `data_dir/jobs/<id>/`: job.json (what the worker reads), events.jsonl (what it appends),
checkpoint files, `policy/` when done (adopted into the policy library), and worker.log (its stdout and
stderr), and `live/`, the newest params for the live preview. The manager tails events.jsonl into the job
store and wakes subscribers, and tells the app's `preview` (a `LivePreview`) when a job's `live/` has newer
params and when its run has ended. Create it in the app's
lifespan; `start()` inside the event loop, `await close()` at shutdown (running workers are killed and
their jobs left interrupted, resumable from their last checkpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Protocol

import msgspec

from server.files import write_atomic
from server.policies.checkpoints import has_checkpoint
from server.policies.library import PolicyLibrary
from server.policies.manifest import MANIFEST_FILE, InvalidPolicy, PolicyManifest
from server.settings import Settings
from server.storage.database import Database
from server.training.backends import (
    DeviceReport,
    LocalBackend,
    RunHandle,
    TrainingBackend,
    describe_probe,
    detect_device,
    driver_present,
    probe_device,
)
from server.training.jobs import InvalidTransition, JobStore
from server.training.protocol import (
    BEST_DIR,
    EVENTS_FILE,
    JOB_FILE,
    LIVE_DIR,
    POLICY_DIR,
    Event,
    FailedEvent,
    Job,
    ProgressEvent,
    SucceededEvent,
)
from server.training.settings import TrainingSettings, read_training_settings
from server.training.types import FINAL_STATES, BackendName, Device, JobSpec, JobStatus
from server.workers import TRAINING_WORKER

log = logging.getLogger(__name__)

# (the finished job, its kept policy's manifest) -> the next round's spec, or None.
Reflect = Callable[[JobStatus, PolicyManifest], Awaitable[JobSpec | None]]


class LivePreview(Protocol):
    """Who shows running jobs' newest params (the app's inference service; docs/PREVIEW.md). Called in the
    event loop, so neither may block; an exception is logged and never reaches the job."""

    def preview_updated(self, job_id: str) -> None:
        """The job's `live/` folder was rewritten (its first params, or an evaluation's)."""

    def preview_ended(self, job_id: str, note: str) -> None:
        """The job's run ended (succeeded, failed, cancelled or interrupted); `note` says how, for people."""


WORKER_MODULE = TRAINING_WORKER
# A stream stops at these: interrupted ends this run too (a resume is a new run, watched anew).
STREAM_END_STATES = FINAL_STATES | {"interrupted"}
__all__ = ["STREAM_END_STATES", "LivePreview", "TrainingManager", "detect_device", "end_note"]


def _pid_runs_job(pid: int, job_dir: Path) -> bool:
    """Whether `pid` is still our worker for this job (its command line names the job dir), so a restarted
    server never signals an unrelated process that reused the pid."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(job_dir).encode() in cmdline


def _modal_backend(settings: TrainingSettings) -> TrainingBackend:
    from server.training.modal_backend import ModalBackend, ModalRemote

    def connect() -> ModalRemote:
        return ModalRemote(
            timeout_s=settings.modal_timeout_s,
            retries=settings.modal_retries,
            max_containers=settings.modal_max_concurrent,
        )

    return ModalBackend(connect, capacity=settings.modal_max_concurrent)


class TrainingManager:
    """`backends` maps a backend name to its runner; by default a local one (worker processes on `device`,
    `max_concurrent` at once) and Modal built from the saved training settings on first use. Finished
    policies go to `policies` (the app's library; one on `settings.data_dir` by default)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        policies: PolicyLibrary | None = None,
        max_concurrent: int = 1,
        auto_resume: bool = True,
        device: Device | None = None,
        worker_module: str | None = None,
        poll_s: float = 0.25,
        backends: Mapping[BackendName, TrainingBackend] | None = None,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, not {max_concurrent}")
        self.settings = settings
        self.database = database
        self.store = JobStore(database)
        self.policies = policies or PolicyLibrary(settings.data_dir, shipped_dir=settings.bases_dir)
        self.jobs_dir = settings.data_dir / "jobs"
        self.max_concurrent = max_concurrent
        self.auto_resume = auto_resume
        self.device: Device = device or detect_device()
        self.device_report: DeviceReport = describe_probe(driver_present(), None, "not asked yet")
        if device is not None or not driver_present():
            self.device_report = (
                describe_probe(False, [], None) if self.device == "cpu" else self.device_report
            )
        self._probe = device is None and driver_present()
        self.worker_module = worker_module or WORKER_MODULE  # another: a test double (server/workers.py)
        self.poll_s = poll_s
        self.training_settings = read_training_settings(database)
        self.backends: dict[BackendName, TrainingBackend] = dict(backends or {})
        self.backends.setdefault(
            "local",
            LocalBackend(self.device, worker_module=self.worker_module, capacity=max_concurrent),
        )
        self._runs: dict[str, RunHandle] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._task_backend: dict[str, BackendName] = {}
        self._cancelling: set[str] = set()
        self._stopping: set[str] = set()
        # Set by the app (server/planning/reflection.py): given a finished job whose kept policy failed its
        # check, the next round's spec, or None. Awaited before the job is marked final, so its final
        # status already names the round that follows it.
        self.reflect: Reflect | None = None
        # Set by the app: the live preview of running jobs, told of new params and of each run's end.
        self.preview: LivePreview | None = None
        self._subscribers: dict[str, set[asyncio.Queue[JobStatus]]] = {}
        self._closed = False

    # ---- backends -------------------------------------------------------------------------------
    def backend(self, name: BackendName) -> TrainingBackend:
        if name not in self.backends:  # Modal: built on first use, so its SDK is imported only then
            self.backends[name] = _modal_backend(self.training_settings)
        return self.backends[name]

    def apply_settings(self, training: TrainingSettings) -> None:
        """New jobs go to `training.backend`; Modal's capacity changes at once (running calls go on)."""
        self.training_settings = training
        modal = self.backends.get("modal")
        if modal is not None:
            modal.capacity = training.modal_max_concurrent
        self._schedule()

    async def probe(self) -> DeviceReport:
        """Asks JAX (in a subprocess) which CUDA devices it sees; the local backend follows the answer."""
        report = await probe_device()
        self.device_report = report
        self.device = report.device
        local = self.backends.get("local")
        if isinstance(local, LocalBackend):
            local.device = report.device
        return report

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Recovers jobs a previous server left running, then starts queued ones. Needs the event loop."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        for job_id in self.store.ids_in_state("running"):
            _resume, pid, _attempt = self.store.run_info(job_id)
            if pid is not None and _pid_runs_job(pid, self.job_dir(job_id)):
                # An orphan of a crashed server would keep writing; a resumed run must be the only writer.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            # Progress the worker wrote after the old server stopped reading; replaying is idempotent.
            for event in _Tail(self.job_dir(job_id) / EVENTS_FILE, 0).read():
                if isinstance(event, ProgressEvent):
                    self.store.add_progress(job_id, event.progress)
            self._interrupt(job_id, "the server stopped while this job was running")
        if self.auto_resume:
            for job_id in self.store.ids_in_state("interrupted"):
                if self.store.get(job_id).resumable:
                    self.store.transition(job_id, "queued", resume=True)
        if self._probe:
            self._probe = False
            asyncio.get_running_loop().create_task(self.probe(), name="training-device-probe")
        self._schedule()

    async def close(self) -> None:
        self._closed = True
        for job_id, run in list(self._runs.items()):
            run.detach()
            log.info("stopping training job %s (pid %s) for shutdown", job_id, run.pid)
        tasks = list(self._tasks.values())
        await asyncio.gather(*tasks, return_exceptions=True)
        for backend in self.backends.values():
            closer = getattr(backend, "close", None)
            if closer is not None:
                closer()

    # ---- queries --------------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def status(self, job_id: str) -> JobStatus:
        return self.store.get(job_id)

    def jobs(self) -> list[JobStatus]:
        """Newest first, without history."""
        return self.store.all()

    def worker_pid(self, job_id: str) -> int | None:
        run = self._runs.get(job_id)
        return run.pid if run is not None else None

    def running(self, backend: BackendName | None = None) -> int:
        return sum(1 for b in self._task_backend.values() if backend is None or b == backend)

    async def watch(self, job_id: str) -> AsyncIterator[JobStatus]:
        """The job's status now and on every change, ending after a state in STREAM_END_STATES."""
        queue: asyncio.Queue[JobStatus] = asyncio.Queue()
        self._subscribers.setdefault(job_id, set()).add(queue)
        try:
            status = self.store.get(job_id)  # after subscribing, so no change falls in between
            while True:
                yield status
                if status.state in STREAM_END_STATES:
                    return
                status = await queue.get()
        finally:
            subscribers = self._subscribers.get(job_id)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[job_id]

    # ---- commands -------------------------------------------------------------------------------
    def submit(self, spec: JobSpec, backend: BackendName | None = None) -> JobStatus:
        """Queues `spec` on `backend` (default: the user's setting). Fine-tuning stays local: the base
        policy's files live on this computer."""
        chosen: BackendName = backend or self.training_settings.backend
        if spec.base_policy_id is not None:
            chosen = "local"
        device: Device = "gpu" if chosen == "modal" else self.device
        status = self.store.create(spec, device, chosen)
        self._schedule()
        return self.store.get(status.job_id)

    async def cancel(self, job_id: str, *, timeout_s: float = 10.0) -> JobStatus:
        """A queued or interrupted job is cancelled at once; a running one has its run stopped (a worker is
        SIGKILLed, a Modal call cancelled) and is cancelled when it has stopped. InvalidTransition when the
        job is already final."""
        status = self.store.get(job_id)
        if status.state in ("queued", "interrupted"):
            status = self.store.transition(job_id, "cancelled", error="cancelled before it ran")
            self._notify(job_id)
            return status
        if status.state != "running":
            raise InvalidTransition(job_id, status.state, "cancelled")
        self._cancelling.add(job_id)
        return await self._halt(job_id, timeout_s)

    async def stop(self, job_id: str, *, timeout_s: float = 10.0) -> JobStatus:
        """Stops a running job and keeps its best evaluation so far as the policy (outcome "stopped"); a
        job without a finished evaluation yet is cancelled, having nothing to keep. InvalidTransition when
        the job is not running."""
        status = self.store.get(job_id)
        if status.state != "running":
            raise InvalidTransition(job_id, status.state, "stopped")
        self._stopping.add(job_id)
        return await self._halt(job_id, timeout_s)

    async def _halt(self, job_id: str, timeout_s: float) -> JobStatus:
        """Stops the job's run (cancel or stop decide, in _finish, what becomes of it) and waits for it."""
        run = self._runs.get(job_id)
        if run is not None:
            run.cancel()
        task = self._tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout_s)
        return self.store.get(job_id)

    def resume(self, job_id: str) -> JobStatus:
        """Queues an interrupted job again, continuing from its checkpoint (or Modal call) when it has one."""
        status = self.store.get(job_id)
        if status.state != "interrupted":
            raise InvalidTransition(job_id, status.state, "queued")
        self.store.transition(job_id, "queued", resume=status.resumable)
        self._notify(job_id)
        self._schedule()
        return self.store.get(job_id)

    # ---- running --------------------------------------------------------------------------------
    def _schedule(self) -> None:
        """Starts queued jobs, oldest first, on each backend while it has room."""
        if self._closed:
            return
        names: tuple[BackendName, ...] = ("local", "modal")
        for name in names:
            # Modal's capacity before its backend exists (it is built when its first job runs).
            capacity = (
                self.backends[name].capacity
                if name in self.backends
                else self.training_settings.modal_max_concurrent
            )
            while self.running(name) < capacity:
                job_id = self.store.next_queued(name)
                if job_id is None:
                    break
                self.store.transition(job_id, "running")
                self._notify(job_id)
                self._task_backend[job_id] = name
                self._tasks[job_id] = asyncio.get_running_loop().create_task(
                    self._run(job_id), name=f"training-{job_id}"
                )

    def _notify(self, job_id: str) -> None:
        subscribers = self._subscribers.get(job_id)
        if not subscribers:
            return
        status = self.store.get(job_id)
        for queue in subscribers:
            queue.put_nowait(status)

    def _interrupt(self, job_id: str, cause: str) -> None:
        backend = self.store.backend_of(job_id)
        job_dir = self.job_dir(job_id)
        resumable = (
            self.backends[backend].resumable(job_dir)
            if backend in self.backends
            else has_checkpoint(job_dir) or (job_dir / "modal_call.json").is_file()
        )
        self.store.transition(job_id, "interrupted", error=cause, resumable=resumable)

    def _write_job_file(self, job_id: str, spec: JobSpec, resume: bool) -> None:
        job_dir = self.job_dir(job_id)
        base = None
        if spec.base_policy_id is not None:
            base = str(self.policies.folder(spec.base_policy_id))
        # The library gives the policy its id when it adopts it, so none is chosen here.
        job = Job(
            spec=spec,
            scene_cache_dir=str(self.settings.cache_dir),
            resume=resume,
            base_params_dir=base,
            job_id=job_id,
        )
        write_atomic(job_dir / JOB_FILE, msgspec.json.encode(job))

    async def _run(self, job_id: str) -> None:
        try:
            await self._run_job(job_id)
        except Exception as exc:
            log.exception("training job %s: the manager failed", job_id)
            with contextlib.suppress(InvalidTransition):
                self.store.transition(job_id, "failed", error=f"could not run the job: {exc}")
        finally:
            self._runs.pop(job_id, None)
            self._tasks.pop(job_id, None)
            self._task_backend.pop(job_id, None)
            self._cancelling.discard(job_id)
            self._stopping.discard(job_id)
            self._notify(job_id)
            if not self._closed:  # a stopping server closes its preview sessions itself
                self._tell_preview(job_id, ended=True)
            self._schedule()

    def _tell_preview(self, job_id: str, *, ended: bool = False) -> None:
        preview = self.preview
        if preview is None:
            return
        try:
            if ended:
                preview.preview_ended(job_id, end_note(self.store.get(job_id)))
            else:
                preview.preview_updated(job_id)
        except Exception:  # the preview is a view of the job: it must never break the job
            log.exception("training job %s: the live preview hook failed", job_id)

    async def _run_job(self, job_id: str) -> None:
        status = self.store.get(job_id)
        backend = self.backend(status.backend)
        resume, _pid, _attempt = self.store.run_info(job_id)
        job_dir = self.job_dir(job_id)
        job_dir.mkdir(parents=True, exist_ok=True)
        events = job_dir / EVENTS_FILE
        if not resume:  # a fresh run: nothing from an earlier attempt may be mistaken for this one's
            for stale in backend.work_files:
                (job_dir / stale).unlink(missing_ok=True)
            shutil.rmtree(job_dir / BEST_DIR, ignore_errors=True)
            shutil.rmtree(job_dir / LIVE_DIR, ignore_errors=True)
        shutil.rmtree(job_dir / POLICY_DIR, ignore_errors=True)
        self._write_job_file(job_id, status.spec, resume)
        offset = events.stat().st_size if events.exists() else 0
        run = await backend.launch(job_id, job_dir, resume=resume)
        self._runs[job_id] = run
        if run.pid is not None:
            self.store.set_pid(job_id, run.pid)
        if job_id in self._cancelling:  # cancel() came while it was starting
            run.cancel()
        elif self._closed:  # close() came while it was starting
            run.detach()
        log.info("training job %s: %s run started (resume=%s)", job_id, backend.name, resume)
        tail = _Tail(events, offset)
        live = _FileWatch(job_dir / LIVE_DIR / MANIFEST_FILE)
        final: SucceededEvent | FailedEvent | None = None
        wait = asyncio.ensure_future(run.wait())
        while True:
            done, _ = await asyncio.wait({wait}, timeout=self.poll_s)
            for event in tail.read():
                if isinstance(event, ProgressEvent):
                    self.store.add_progress(job_id, event.progress)
                    self._notify(job_id)
                else:
                    final = event
            if live.changed():  # the runner writes live/ before the progress event that announces it
                self._tell_preview(job_id)
            if done:
                break
        returncode = wait.result()
        for event in tail.read(flush=True):
            if isinstance(event, ProgressEvent):
                self.store.add_progress(job_id, event.progress)
            else:
                final = event
        if live.changed():
            self._tell_preview(job_id)
        await self._finish(job_id, returncode, final, run)

    async def _finish(
        self, job_id: str, returncode: int, final: SucceededEvent | FailedEvent | None, run: RunHandle
    ) -> None:
        if job_id in self._cancelling:
            self.store.transition(job_id, "cancelled", error="cancelled while running")
        elif job_id in self._stopping and not isinstance(final, SucceededEvent):
            self._keep_best(job_id)
        elif isinstance(final, SucceededEvent) and returncode == 0:
            try:
                manifest = self.policies.add(
                    self.job_dir(job_id) / POLICY_DIR,
                    job_id=job_id,
                    is_base=self.store.get(job_id).spec.make_base,
                )
            except (InvalidPolicy, OSError) as exc:
                self.store.transition(job_id, "failed", error=f"the trained policy could not be saved: {exc}")
            else:
                next_job_id = await self._next_round(job_id, manifest)
                self.store.transition(
                    job_id,
                    "succeeded",
                    policy_id=manifest.policy_id,
                    outcome=manifest.outcome,
                    next_job_id=next_job_id,
                )
        elif isinstance(final, FailedEvent):
            self.store.transition(job_id, "failed", error=final.error)
        elif self._closed:
            self._interrupt(job_id, "the server stopped while this job was running")
        else:
            self._interrupt(job_id, run.exit_cause(returncode))
        log.info("training job %s: %s", job_id, self.store.get(job_id).state)

    def _keep_best(self, job_id: str) -> None:
        """A stopped job: its best evaluation so far (best/, written by the runner) becomes the policy."""
        best = self.job_dir(job_id) / BEST_DIR
        try:
            manifest = self.policies.add(best, job_id=job_id, is_base=self.store.get(job_id).spec.make_base)
        except (InvalidPolicy, OSError):
            self.store.transition(
                job_id, "cancelled", error="stopped before its first evaluation: there was nothing to keep"
            )
            return
        self.store.transition(job_id, "succeeded", policy_id=manifest.policy_id, outcome=manifest.outcome)

    async def _next_round(self, job_id: str, manifest: PolicyManifest) -> str | None:
        """Queues the reflection round of a job whose kept policy failed its check, if it has rounds left."""
        status = self.store.get(job_id)
        outcome = manifest.outcome
        if (
            self.reflect is None
            or self._closed
            or outcome is None
            or outcome.check is None
            or outcome.check.passed
            or status.spec.round >= status.spec.reflection_rounds
        ):
            return None
        try:
            spec = await self.reflect(status, manifest)
        except Exception:  # a revision that cannot be made leaves the job as it is, with its verdict
            log.exception("training job %s: the reflection round could not be prepared", job_id)
            return None
        if spec is None:
            return None
        child = self.submit(spec, status.backend)
        log.info("training job %s failed its check; round %d is job %s", job_id, spec.round, child.job_id)
        return child.job_id


def end_note(status: JobStatus) -> str:
    """How a run ended, in a sentence for the preview's panel."""
    error = status.error or ""
    if status.state == "succeeded":
        stopped = status.outcome is not None and status.outcome.stop_reason == "stopped"
        note = (
            "the job was stopped: its best evaluation so far is in the library"
            if stopped
            else "the job succeeded: its kept policy is in the library"
        )
        if status.next_job_id is not None:
            note += "; it did not pass its check, so a revised round trains next"
        return note
    if status.state == "cancelled":
        return "the job was cancelled" if error.startswith("cancelled") else f"the job was cancelled: {error}"
    if status.state == "failed":
        return f"the job failed: {error}" if error else "the job failed"
    if status.state == "interrupted":
        resume = " (it can be resumed)" if status.resumable else ""
        return f"the job was interrupted: {error}{resume}" if error else f"the job was interrupted{resume}"
    return f"the job is {status.state}"


class _FileWatch:
    """Whether a file was replaced since the last look (write_atomic renames a new inode over it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None

    def changed(self) -> bool:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        seen = (stat.st_ino, stat.st_mtime_ns)
        if seen == self._seen:
            return False
        self._seen = seen
        return True


class _Tail:
    """Complete lines appended to events.jsonl since `offset`; a partial last line waits for its newline."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.offset = offset
        self._decoder = msgspec.json.Decoder(Event)

    def read(self, *, flush: bool = False) -> list[Event]:
        try:
            with self.path.open("rb") as file:
                file.seek(self.offset)
                data = file.read()
        except FileNotFoundError:
            return []
        end = len(data) if flush else data.rfind(b"\n") + 1
        self.offset += end
        events = []
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                events.append(self._decoder.decode(line))
            except msgspec.DecodeError:
                log.warning("ignoring a malformed training event in %s: %.200r", self.path, line)
        return events
