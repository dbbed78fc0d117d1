"""Training on Modal's serverless H100s: many jobs at once, each a `.spawn()`ed call of the function in
`server.training.modal_app`, followed live from this process.

The backend codes against a small interface (`Remote`, `RemoteCall`), so its mapping of remote states onto
local ones is tested offline with a fake that runs the real remote function locally; `ModalRemote` is the
real one and the only code that imports `modal` (on the first Modal job, never at import time).

A run, as the manager sees it (same files as a local worker):
1. spawn the call with the job's job.json (or reattach to the call id kept in `modal_call.json`, after a
   restart or a lost connection), writing the call id before anything else can go wrong;
2. every `poll_s`: read the job's events.jsonl from the Volume and append its new progress lines to the
   local events.jsonl (Restricted Functions may not touch Queues or Dicts, so the Volume carries them),
   after copying the run's `live/` (the live preview's newest params) into the local job folder, so the
   manager's preview hook finds them, as it finds a local worker's;
3. when the call returns: copy `policy/` from the Volume into the local job folder (the library then
   adopts it into the data directory) and append the final event.
Cancel maps to `FunctionCall.cancel`; a server shutdown leaves the call running (reattached on the next
launch). Errors map to: not configured / quota / remote crash / timeout -> failed with the cause; lost
connection for longer than `lost_after_s` -> interrupted (resumable: the call id is kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from server.files import sha256_bytes, write_atomic
from server.policies.manifest import (
    CLIP_FILE,
    MANIFEST_FILE,
    PARAMS_FILE,
    POLICY_FILES,
    InvalidPolicy,
    decode_manifest,
)
from server.training.protocol import (
    EVENTS_FILE,
    JOB_FILE,
    LIVE_DIR,
    POLICY_DIR,
    Event,
    FailedEvent,
    ProgressEvent,
    SucceededEvent,
)
from server.training.remote import job_path
from server.training.types import BackendName, Device

log = logging.getLogger(__name__)
CALL_FILE = "modal_call.json"
LOST = 75  # exit code of a run that lost Modal (EX_TEMPFAIL): interrupted, resumable
STOPPED = 76  # detached for a server shutdown: interrupted, reattached on the next launch
T = TypeVar("T")


class RemoteError(Exception):
    """Base of what a `Remote` raises; messages are for the user and never contain credentials."""


class RemoteNotConfigured(RemoteError):  # noqa: N818 (reads as the condition)
    """No Modal token, or Modal refused it."""


class RemoteConnectionLost(RemoteError):  # noqa: N818 (reads as the condition)
    """Modal could not be reached for now; worth trying again."""


class RemoteJobFailed(RemoteError):  # noqa: N818 (reads as the condition)
    """The call ended badly (crash, timeout, quota, cancelled elsewhere, result expired)."""


class RemoteCall(Protocol):
    object_id: str

    def poll(self) -> bytes | None:
        """The call's return value (a final event's JSON) once it has one; None while it runs."""

    def cancel(self) -> None: ...


class Remote(Protocol):
    def spawn(self, payload: bytes) -> RemoteCall: ...

    def attach(self, call_id: str) -> RemoteCall: ...

    def read_file(self, path: str) -> bytes | None:
        """A file on the Volume (relative to its root); None when it is not there (yet)."""


class _CallRecord(msgspec.Struct):
    call_id: str


class ModalBackend:
    name: BackendName = "modal"
    device: Device = "gpu"
    work_files: tuple[str, ...] = (EVENTS_FILE, CALL_FILE)

    def __init__(
        self,
        remote_factory: Callable[[], Remote],
        *,
        capacity: int = 100,
        poll_s: float = 2.0,
        lost_after_s: float = 120.0,
        threads: int = 16,
    ) -> None:
        self.remote_factory = remote_factory
        self.capacity = capacity
        self.poll_s = poll_s
        self.lost_after_s = lost_after_s
        self._remote: Remote | None = None
        # Blocking SDK calls go to a bounded pool, so hundreds of runs never starve the API's own threads.
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="modal")

    def resumable(self, job_dir: Path) -> bool:
        return (job_dir / CALL_FILE).is_file()

    async def launch(self, job_id: str, job_dir: Path, *, resume: bool) -> _RemoteRun:
        run = _RemoteRun(self, job_id, job_dir, resume)
        run.task = asyncio.get_running_loop().create_task(run.drive(), name=f"modal-{job_id}")
        return run

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def remote(self) -> Remote:
        if self._remote is None:
            self._remote = await self.call(self.remote_factory)
        return self._remote

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _RemoteRun:
    def __init__(self, backend: ModalBackend, job_id: str, job_dir: Path, resume: bool) -> None:
        self.backend = backend
        self.job_id = job_id
        self.job_dir = job_dir
        self.resume = resume
        self.task: asyncio.Task[int] | None = None
        self.cause = "the Modal run stopped without a result"
        self._stop: str | None = None  # "cancel" or "detach"
        self._wake = asyncio.Event()
        self._mirrored = 0  # bytes of the remote events.jsonl already copied
        self._live: bytes | None = None  # the live/ manifest last copied
        self._live_wanted = True  # the Volume may hold a newer live/ than the local folder

    @property
    def pid(self) -> int | None:
        return None

    async def wait(self) -> int:
        assert self.task is not None
        return await self.task

    def cancel(self) -> None:
        self._stop = "cancel"
        self._wake.set()

    def detach(self) -> None:
        self._stop = self._stop or "detach"
        self._wake.set()

    def exit_cause(self, returncode: int) -> str:
        return self.cause

    def _append(self, event: Event) -> None:
        with (self.job_dir / EVENTS_FILE).open("ab") as stream:
            stream.write(msgspec.json.encode(event) + b"\n")

    def _fail(self, message: str) -> int:
        self._append(FailedEvent(message[:2000]))
        return 1

    async def drive(self) -> int:
        try:
            return await self._drive()
        except RemoteNotConfigured as exc:
            return self._fail(f"Modal is not configured: {exc}")
        except RemoteJobFailed as exc:
            return self._fail(f"the Modal job failed: {exc}")
        except RemoteConnectionLost as exc:
            self.cause = f"lost the connection to Modal: {exc}"
            return LOST

    async def _start(self) -> RemoteCall:
        backend = self.backend
        remote = await backend.remote()
        record = self.job_dir / CALL_FILE
        if self.resume and record.is_file():
            call_id = msgspec.json.decode(record.read_bytes(), type=_CallRecord).call_id
            log.info("training job %s: reattaching to Modal call %s", self.job_id, call_id)
            return await backend.call(remote.attach, call_id)
        call = await backend.call(remote.spawn, (self.job_dir / JOB_FILE).read_bytes())
        write_atomic(record, msgspec.json.encode(_CallRecord(call.object_id)))
        log.info("training job %s: Modal call %s spawned", self.job_id, call.object_id)
        return call

    async def _drive(self) -> int:
        backend = self.backend
        call = await self._start()
        last_contact = time.monotonic()
        while True:
            if self._stop == "cancel":
                with contextlib.suppress(RemoteError):
                    await backend.call(call.cancel)
                self.cause = "cancelled"
                return STOPPED
            if self._stop == "detach":
                self.cause = "the server stopped while this job was running on Modal (it goes on there)"
                return STOPPED
            try:
                result = await backend.call(call.poll)
                await self._mirror()
            except RemoteConnectionLost as exc:
                if time.monotonic() - last_contact > backend.lost_after_s:
                    raise
                log.warning("training job %s: Modal unreachable for now (%s)", self.job_id, exc)
            else:
                last_contact = time.monotonic()
                if result is not None:
                    return await self._finish(result)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), backend.poll_s)

    async def _mirror(self) -> None:
        remote = await self.backend.remote()
        data = await self.backend.call(remote.read_file, job_path(self.job_id, EVENTS_FILE))
        progress: list[ProgressEvent] = []
        end = self._mirrored
        if data and len(data) > self._mirrored:
            end = data.rfind(b"\n") + 1
            decoder = msgspec.json.Decoder(Event)
            for line in data[self._mirrored : end].splitlines():
                with contextlib.suppress(msgspec.DecodeError):
                    event = decoder.decode(line)
                    if isinstance(event, ProgressEvent):  # the final event comes from the call's result
                        progress.append(event)
        if progress:  # the runner rewrites live/ before each progress line
            self._live_wanted = True
        if self._live_wanted:
            self._live_wanted = not await self._copy_live(remote)
        for event in progress:
            self._append(event)
        self._mirrored = max(self._mirrored, end)

    async def _copy_live(self, remote: Remote) -> bool:
        """The run's live/ from the Volume into the local job folder, when it changed; False when there is
        none yet or it was read across two writes (the params are not those the manifest hashes): the next
        poll tries again, and the local live/ is only ever a complete policy folder."""
        manifest = await self.backend.call(remote.read_file, job_path(self.job_id, LIVE_DIR, MANIFEST_FILE))
        if manifest is None:
            return False
        if manifest == self._live:
            return True
        params = await self.backend.call(remote.read_file, job_path(self.job_id, LIVE_DIR, PARAMS_FILE))
        try:
            expected = decode_manifest(manifest).params_sha256
        except InvalidPolicy:
            return False
        if params is None or sha256_bytes(params) != expected:
            log.info(
                "training job %s: live/ on the Volume is mid-write; copied at the next poll", self.job_id
            )
            return False
        folder = self.job_dir / LIVE_DIR
        write_atomic(folder / PARAMS_FILE, params)  # params first, as save_policy writes them
        write_atomic(folder / MANIFEST_FILE, manifest)
        self._live = manifest
        return True

    async def _finish(self, result: bytes) -> int:
        try:
            final = msgspec.json.decode(result, type=Event)
        except msgspec.DecodeError as exc:
            return self._fail(f"the Modal job returned an unreadable result: {exc}")
        if isinstance(final, FailedEvent):
            self._append(final)
            return 1
        if not isinstance(final, SucceededEvent):
            return self._fail("the Modal job returned no final event")
        remote = await self.backend.remote()
        policy = self.job_dir / POLICY_DIR
        policy.mkdir(parents=True, exist_ok=True)
        for name in POLICY_FILES:
            data = await self.backend.call(remote.read_file, job_path(self.job_id, POLICY_DIR, name))
            if data is None:
                return self._fail(f"the trained policy's {name} is missing from the Modal Volume")
            write_atomic(policy / name, data)
        # Its clip, when the container could render one (optional: a policy plays without it).
        clip = await self.backend.call(remote.read_file, job_path(self.job_id, POLICY_DIR, CLIP_FILE))
        if clip is not None:
            write_atomic(policy / CLIP_FILE, clip)
        self._append(final)
        return 0


# ---- the real one ----------------------------------------------------------------------------------
def modal_configured(env: dict[str, str] | None = None, home: Path | None = None) -> tuple[bool, str]:
    """Whether Modal's usual token configuration is present, and where (never the token itself)."""
    env = dict(os.environ) if env is None else env
    if env.get("MODAL_TOKEN_ID") and env.get("MODAL_TOKEN_SECRET"):
        return True, "MODAL_TOKEN_ID and MODAL_TOKEN_SECRET are set"
    config = (
        Path(env["MODAL_CONFIG_PATH"])
        if env.get("MODAL_CONFIG_PATH")
        else (home or Path.home()) / ".modal.toml"
    )
    try:
        import tomllib

        data = tomllib.loads(config.read_text())
    except (OSError, ValueError):
        return False, f"no Modal token: run `modal token new` (writes {config}) or set MODAL_TOKEN_ID/SECRET"
    profiles = [p for p in data.values() if isinstance(p, dict)]
    if any(p.get("token_id") and p.get("token_secret") for p in profiles):
        return True, f"a token is configured in {config}"
    return False, f"{config} has no token; run `modal token new`"


def translate(exc: BaseException) -> RemoteError:
    """Modal's exceptions as this backend's (by class name, so it needs no import of modal to test)."""
    name = type(exc).__name__
    text = str(exc) or name
    if name in ("AuthError", "PermissionDeniedError"):
        return RemoteNotConfigured(f"Modal refused the token ({text})")
    if name in (
        "ConnectionError",
        "ClientClosed",
        "StreamTerminatedError",
        "GRPCError",
        "OSError",
    ) or isinstance(exc, ConnectionError | OSError):
        return RemoteConnectionLost(text)
    if name == "ResourceExhaustedError":
        return RemoteJobFailed(f"Modal quota or capacity exhausted ({text})")
    if name == "FunctionTimeoutError":
        return RemoteJobFailed(f"the job ran past its time limit on Modal ({text})")
    if name == "InputCancellation":
        return RemoteJobFailed("the call was cancelled on Modal")
    if name == "OutputExpiredError":
        return RemoteJobFailed("Modal no longer keeps this call's result")
    if name == "NotFoundError":
        return RemoteJobFailed(f"not found on Modal ({text})")
    return RemoteJobFailed(f"{name}: {text}")


class _ModalCall:
    def __init__(self, call: Any) -> None:
        self.call = call
        self.object_id: str = call.object_id

    def poll(self) -> bytes | None:
        import modal.exception

        try:
            result: bytes = self.call.get(timeout=0)
        except modal.exception.TimeoutError:
            return None
        except Exception as exc:
            raise translate(exc) from exc
        return result

    def cancel(self) -> None:
        try:
            self.call.cancel(terminate_containers=True)
        except Exception as exc:
            raise translate(exc) from exc


class ModalRemote:
    """The live Modal: deploys the app once per launch (idempotent on Modal's side), then spawns calls."""

    def __init__(self, *, timeout_s: int, retries: int, max_containers: int) -> None:
        configured, why = modal_configured()
        if not configured:
            raise RemoteNotConfigured(why)
        import modal

        from server.training.modal_app import VOLUME_NAME, build_app

        self._modal = modal
        try:
            app, self.function = build_app(
                timeout_s=timeout_s, retries=retries, max_containers=max_containers
            )
            app.deploy()
            self.volume = modal.Volume.from_name(VOLUME_NAME, create_if_missing=True)
        except Exception as exc:
            raise translate(exc) from exc

    def spawn(self, payload: bytes) -> RemoteCall:
        try:
            return _ModalCall(self.function.spawn(payload))
        except Exception as exc:
            raise translate(exc) from exc

    def attach(self, call_id: str) -> RemoteCall:
        try:
            return _ModalCall(self._modal.FunctionCall.from_id(call_id))
        except Exception as exc:
            raise translate(exc) from exc

    def read_file(self, path: str) -> bytes | None:
        try:
            return b"".join(self.volume.read_file(path))
        except FileNotFoundError:
            return None
        except Exception as exc:
            if type(exc).__name__ == "NotFoundError":
                return None
            raise translate(exc) from exc
