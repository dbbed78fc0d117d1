"""Live playback in the API process: one inference worker per policy being played, shared by all the
browser sessions playing it. No JAX here; the worker does the work (server.inference.worker).

A worker starts on a policy's first session and compiles before it says hello; sessions opened
meanwhile wait for that hello (the socket shows "compiling"). It stays up `idle_s` after its last
session closes, so a reconnect or a replay does not compile again, unless another policy starts
playing first (idle workers then stop at once: each holds 1-2 GB). If it dies, its sessions get
`None` (the socket closes with 1011) and the next session starts a fresh one.

`warm()` starts a policy's worker before any session (the UI warms a joystick scene's base when the scene
is opened), so the first socket's hello is immediate. A warmed worker no session uses is idle from its
hello on: the same idle rule stops it.

Live preview (docs/PREVIEW.md): `open_preview` plays a training job's live/ folder on a worker of its own
(keyed `job:<id>`, apart from the policies). The training manager calls `preview_updated` when the job
wrote newer params there (the worker reloads them: one PolicyUpdate for all its sessions) and
`preview_ended` when the job ended (every session gets a last PolicyUpdate with `ended`). The latest
PolicyUpdate is kept, so a session opened later gets it right after its Hello.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from pathlib import Path

import msgspec

from server.inference import ipc
from server.inference.protocol import (
    CLOSE_NEEDS_REVIEW,
    CLOSE_UNKNOWN_MODEL,
    CLOSE_UNPLAYABLE,
    CLOSE_WORKER_FAILED,
    Error,
    Hello,
    PolicyUpdate,
    decode_server,
    encode,
)
from server.policies.manifest import InvalidPolicy, read_manifest
from server.sandbox.environment import worker_env
from server.settings import Settings
from server.workers import INFERENCE_WORKER, WorkerStartError, last_error_line, spawn_worker

log = logging.getLogger(__name__)

WORKER_MODULE = INFERENCE_WORKER
IDLE_SECONDS = 120.0
WORKER_STOPPED = "the inference worker stopped (see inference-worker.log); reconnect to start a new one"


class PlaybackUnavailable(RuntimeError):  # noqa: N818 (reads as the condition)
    """The policy cannot be played here; the message says why, `close_code` how its socket closes."""

    close_code = CLOSE_UNPLAYABLE


class PolicyNeedsReview(PlaybackUnavailable):
    """An imported policy whose reward program the user has not confirmed reading: playing would run it."""

    close_code = CLOSE_NEEDS_REVIEW


def preview_key(job_id: str) -> str:
    """The key of a job's preview worker: never a policy id (those are hex digits only)."""
    return f"job:{job_id}"


def _check_playable(policy_id: str, policy_dir: Path) -> None:
    try:
        manifest = read_manifest(policy_dir)
    except InvalidPolicy as exc:
        raise PlaybackUnavailable(str(exc)) from exc
    if manifest.needs_review:
        raise PolicyNeedsReview(
            f"policy '{policy_id}' was imported: read its reward program in the library and confirm first"
        )


class _Worker:
    def __init__(self, key: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.key = key  # the policy id, or preview_key(job_id)
        self.process = process
        self.log_path = log_path
        self.hello: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.sessions: dict[int, asyncio.Queue[bytes | None]] = {}
        self.alive = True
        # How its sessions' sockets close when it stops: a crash unless told otherwise (retire()).
        self.end = (CLOSE_WORKER_FAILED, WORKER_STOPPED)
        self.idle_timer: asyncio.TimerHandle | None = None
        # A preview's PolicyUpdates: the latest (encoded), reloads asked and answered in order (the worker
        # answers each with one), and from which answer on they say the job ended, with what note.
        self.update: bytes | None = None
        self.reloads_sent = 0
        self.updates_seen = 0
        self.end_at: int | None = None
        self.end_note = ""
        self.reader = asyncio.ensure_future(self._read())

    def reload(self) -> None:
        """Ask the worker to read its folder again; its PolicyUpdate answer goes to every session."""
        self.send(ipc.ToWorker(ipc.WORKER_SESSION, "reload"))
        self.reloads_sent += 1

    def _published(self, frame: bytes) -> None:
        self.updates_seen += 1
        if self.end_at is not None and self.updates_seen >= self.end_at:
            update = decode_server(frame)
            if isinstance(update, PolicyUpdate):
                note = "; ".join(text for text in (self.end_note, update.note) if text)
                frame = encode(msgspec.structs.replace(update, ended=True, note=note))
        self.update = frame
        for queue in self.sessions.values():
            queue.put_nowait(frame)

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                header = await stdout.readexactly(ipc.HEADER_BYTES)
                body = await stdout.readexactly(ipc.length_of(header))
                message = ipc.decode_from_worker(body)
                if message.session == ipc.WORKER_SESSION:
                    if not self.hello.done():
                        self.hello.set_result(message.frames[0])
                    else:  # a reload's answer
                        for frame in message.frames:
                            self._published(frame)
                    continue
                queue = self.sessions.get(message.session)
                if queue is not None:
                    for frame in message.frames:
                        queue.put_nowait(frame)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self.alive = False
            code = await self.process.wait()
            if not self.hello.done():
                last = last_error_line(self.log_path) if code else ""
                why = f"the inference worker exited (code {code}) before it was ready" + (
                    f": {last}" if last else ""
                )
                log.error("%s (log: %s)", why, self.log_path)
                self.hello.set_exception(PlaybackUnavailable(why))
            for queue in self.sessions.values():
                queue.put_nowait(None)
            log.info("inference worker for %s exited with code %s", self.key, code)

    def send(self, message: ipc.ToWorker) -> None:
        stdin = self.process.stdin
        if not self.alive or stdin is None or stdin.is_closing():
            raise ConnectionError("the inference worker is not running")
        stdin.write(ipc.pack(message))

    async def stop(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()  # the worker exits at end of input
        try:
            await asyncio.wait_for(self.process.wait(), 5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


class PlaybackLink:
    """One browser session's line to its worker."""

    def __init__(self, service: InferenceService, worker: _Worker, session: int) -> None:
        self._service = service
        self._worker = worker
        self.session = session
        self.replies: asyncio.Queue[bytes | None] = asyncio.Queue()
        if worker.update is not None:  # a preview: which params play, sent right after the Hello
            self.replies.put_nowait(worker.update)
        worker.sessions[session] = self.replies
        with contextlib.suppress(ConnectionError):  # it died at start: hello() says why
            worker.send(ipc.ToWorker(session, "open"))

    @property
    def end(self) -> tuple[int, str]:
        """The close code and reason for the socket once `replies` yields None."""
        return self._worker.end

    @property
    def ready(self) -> bool:
        return self._worker.hello.done()

    async def hello(self) -> bytes:
        """The worker's encoded Hello; PlaybackUnavailable if it could not load or compile the policy."""
        frame = await asyncio.shield(self._worker.hello)
        message = decode_server(frame)
        if isinstance(message, Error):
            raise PlaybackUnavailable(message.message)
        assert isinstance(message, Hello)
        return frame

    def send(self, frame: bytes) -> None:
        self._worker.send(ipc.ToWorker(self.session, "frame", frame))

    def close(self) -> None:
        self._worker.sessions.pop(self.session, None)
        with contextlib.suppress(ConnectionError):
            self._worker.send(ipc.ToWorker(self.session, "close"))
        self._service._released(self._worker)


class InferenceService:
    def __init__(
        self,
        settings: Settings,
        *,
        worker_module: str = WORKER_MODULE,  # another: a test double (server/workers.py)
        idle_s: float = IDLE_SECONDS,
    ) -> None:
        self.settings = settings
        self.worker_module = worker_module
        self.idle_s = idle_s
        self._workers: dict[str, _Worker] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    async def open(self, policy_id: str, policy_dir: Path) -> PlaybackLink:
        """A session on the policy's worker (started if needed). Refuses, before any worker runs its
        program, an imported policy not yet reviewed (PolicyNeedsReview) or an unreadable manifest."""
        _check_playable(policy_id, policy_dir)
        async with self._lock:
            worker, _started = await self._running_locked(policy_id, policy_dir)
            return self._link_locked(worker)

    def _link_locked(self, worker: _Worker) -> PlaybackLink:
        if worker.idle_timer is not None:
            worker.idle_timer.cancel()
            worker.idle_timer = None
        return PlaybackLink(self, worker, next(self._ids))

    async def open_preview(self, job_id: str, live_dir: Path) -> PlaybackLink:
        """A session on the job's preview worker, which plays `live_dir` (the job's live/ policy folder;
        it must exist) and is started if none runs. Its first PolicyUpdate follows the Hello.
        PlaybackUnavailable when the folder's manifest cannot be read."""
        try:
            read_manifest(live_dir)
        except InvalidPolicy as exc:
            raise PlaybackUnavailable(f"the job's preview policy cannot be read: {exc}") from exc
        async with self._lock:
            worker, started = await self._running_locked(preview_key(job_id), live_dir)
            if started:
                with contextlib.suppress(ConnectionError):  # died already: its hello says so
                    worker.reload()  # answered after the hello: the first PolicyUpdate
            return self._link_locked(worker)

    def _preview(self, job_id: str) -> _Worker | None:
        worker = self._workers.get(preview_key(job_id))
        return worker if worker is not None and worker.alive else None

    def preview_updated(self, job_id: str) -> None:
        """The job wrote newer params to its live/ folder: a running preview of it swaps them in (after
        `preview_ended`, this means the job runs again: resumed). Does nothing when no preview of the job
        runs; never raises. Call it on the event loop."""
        try:
            worker = self._preview(job_id)
            if worker is not None:
                worker.end_at, worker.end_note = None, ""
                worker.reload()
        except Exception:  # the training manager must go on whatever happens here
            log.exception("live preview of job %s: reload failed", job_id)

    def preview_ended(self, job_id: str, note: str) -> None:
        """The job ended (`note` says how, for people): every session of its preview gets a last
        PolicyUpdate with `ended` (the newest params read once more); the sessions go on playing them and
        the worker stops after its last session as usual. Idempotent; does nothing when no preview of
        the job runs; never raises. Call it on the event loop, after the job's final state is stored."""
        try:
            worker = self._preview(job_id)
            if worker is not None and worker.end_at is None:
                worker.end_note = note
                worker.reload()
                worker.end_at = worker.reloads_sent
        except Exception:
            log.exception("live preview of job %s: could not end it", job_id)

    async def warm(self, policy_id: str, policy_dir: Path) -> bool:
        """Start the policy's worker (and its compile) now if none runs; True when it has said hello.
        Idempotent. Refuses like `open` (PolicyNeedsReview, PlaybackUnavailable), before any worker runs."""
        _check_playable(policy_id, policy_dir)
        async with self._lock:
            worker, started = await self._running_locked(policy_id, policy_dir)
            if started:
                # Idle from its hello on (not from now: a cold compile can take longer than idle_s).
                worker.hello.add_done_callback(lambda _: self._warmed(worker))
            elif worker.hello.done():
                self._warmed(worker)  # warmed again: the user is still there, keep it idle_s longer
            return worker.hello.done()

    async def _running_locked(self, key: str, policy_dir: Path) -> tuple[_Worker, bool]:
        """The live worker for `key` (a policy id or a preview_key), started now if none runs (then
        True); under `self._lock`."""
        if self._closed:
            raise PlaybackUnavailable("the server is shutting down")
        worker = self._workers.get(key)
        if worker is not None and worker.alive:
            return worker, False
        await self._retire_idle_locked()
        worker = await self._start(key, policy_dir)
        self._workers[key] = worker
        return worker, True

    def _warmed(self, worker: _Worker) -> None:
        if not worker.hello.cancelled():
            worker.hello.exception()  # a failed compile is said to the socket that opens; not logged twice
        if worker.sessions:
            return
        if worker.idle_timer is not None:
            worker.idle_timer.cancel()
            worker.idle_timer = None
        self._released(worker)

    async def _start(self, key: str, policy_dir: Path) -> _Worker:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # worker_env pins JAX to the CPU, which is what playback wants even beside a GPU: one world per
        # call is hundreds of tiny kernels, faster on the CPU than launched on a GPU, and the card
        # stays free for training.
        env = worker_env()
        log_path = self.log_dir / "inference-worker.log"
        with log_path.open("ab") as log_file:
            try:
                process = await spawn_worker(
                    self.worker_module,
                    str(policy_dir),
                    str(self.settings.cache_dir),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log_file,
                    env=env,
                )
            except WorkerStartError as exc:
                raise PlaybackUnavailable(str(exc)) from exc
        log.info("inference worker %d started for %s", process.pid, key)
        return _Worker(key, process, log_path)

    async def _retire_idle_locked(self) -> None:
        """Each worker holds JAX and an env (1-2 GB): a new policy replaces idle ones at once rather
        than after their idle time, so clicking through the library does not pile them up."""
        idle = [w for w in self._workers.values() if not w.sessions]
        for worker in idle:
            del self._workers[worker.key]
        await asyncio.gather(*(worker.stop() for worker in idle))

    def _released(self, worker: _Worker) -> None:
        if worker.sessions or not worker.alive or self._closed:
            return
        loop = asyncio.get_running_loop()
        worker.idle_timer = loop.call_later(self.idle_s, lambda: asyncio.ensure_future(self._retire(worker)))

    async def _retire(self, worker: _Worker) -> None:
        async with self._lock:
            if worker.sessions:
                return
            if self._workers.get(worker.key) is worker:
                del self._workers[worker.key]
        await worker.stop()

    async def forget(self, policy_id: str) -> None:
        """The policy was deleted: stop its worker; its sockets close with 4404."""
        async with self._lock:
            worker = self._workers.pop(policy_id, None)
        if worker is not None:
            worker.end = (CLOSE_UNKNOWN_MODEL, f"policy '{policy_id}' was deleted")
            await worker.stop()

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            workers = list(self._workers.values())
            self._workers.clear()
        await asyncio.gather(*(worker.stop() for worker in workers))
