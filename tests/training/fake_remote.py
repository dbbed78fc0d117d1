"""A stand-in for Modal that implements the Modal backend's small interface (`Remote`, `RemoteCall`) and
runs the REAL remote function body (`server.training.remote.run_remote_job`, i.e. the local worker's
training function) in local processes, with a local folder as the Volume.

`LocalRemote(root, workers=2)`: at most `workers` calls run at once (others wait, like Modal containers
starting); the process pool lives as long as this object, so a test can restart the server (a new
manager) while calls go on and reattach to them by id, as after a real restart.
Failure injection for the state-mapping tests: `fail_spawn` (an exception spawn raises), `drop_polls`
(this many polls raise RemoteConnectionLost first).
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from server.training.modal_backend import RemoteCall, RemoteConnectionLost, RemoteJobFailed
from server.training.remote import run_remote_job


def real_training(payload: bytes, root: str) -> bytes:
    """The real remote function body: the real training function, on this CPU."""
    import os

    os.environ["JAX_PLATFORMS"] = "cpu"
    return run_remote_job(payload, Path(root))


def scripted_training(payload: bytes, root: str) -> bytes:
    """No JAX: writes what the remote function writes (live/ params before each progress line, policy
    files, a final event) in about 0.3 s, for load tests of the queue, the API and the backend rather than
    of training."""
    import time

    import msgspec

    from server.training.protocol import Job, ProgressEvent, SucceededEvent
    from server.training.types import TrainingProgress
    from tests.training.fake_worker import manifest_for, write_policy

    job = msgspec.json.decode(payload, type=Job)
    job_dir = Path(root) / "jobs" / str(job.job_id)
    (job_dir / "policy").mkdir(parents=True, exist_ok=True)
    history = []
    with (job_dir / "events.jsonl").open("ab") as events:
        for i in range(3):
            point = TrainingProgress(
                step=i * 10, total_steps=20, eval_reward=float(i), reward_terms={"upright": float(i)},
                task_reward=None, steps_per_second=100.0, elapsed_s=0.1 * i, eta_s=0.0,
            )  # fmt: skip
            history.append(point)
            live = f"params:evaluation {i}".encode()
            write_policy(job_dir / "live", manifest_for(job.spec, live, history), live)
            events.write(msgspec.json.encode(ProgressEvent(point)) + b"\n")
            events.flush()
            time.sleep(0.1)
    params = b"params:" + job.spec.program.encode()
    manifest = manifest_for(job.spec, params, history)
    (job_dir / "policy" / "params.msgpack").write_bytes(params)
    (job_dir / "policy" / "manifest.json").write_bytes(msgspec.json.encode(manifest))
    return msgspec.json.encode(SucceededEvent(manifest))


class FakeCall:
    def __init__(self, remote: LocalRemote, future: Future[bytes]) -> None:
        self.remote = remote
        self.future = future
        self.object_id = f"fc-{uuid.uuid4().hex}"
        self.cancelled = False

    def poll(self) -> bytes | None:
        with self.remote.lock:
            if self.remote.drop_polls > 0:
                self.remote.drop_polls -= 1
                raise RemoteConnectionLost("connection reset by peer (injected)")
        if self.cancelled:
            raise RemoteJobFailed("the call was cancelled on Modal")
        if not self.future.done():
            return None
        exc = self.future.exception()
        if exc is not None:
            raise RemoteJobFailed(f"{type(exc).__name__}: {exc}")
        return self.future.result()

    def cancel(self) -> None:
        self.cancelled = True
        self.future.cancel()  # a queued call never starts; a running one finishes unobserved
        self.remote.cancelled.append(self.object_id)


class LocalRemote:
    def __init__(self, root: Path, *, workers: int = 2, real: bool = True) -> None:
        self.root = root
        self.body = real_training if real else scripted_training
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        self.calls: dict[str, FakeCall] = {}
        self.lock = threading.Lock()
        self.fail_spawn: Exception | None = None
        self.drop_polls = 0
        self.spawned = 0
        self.cancelled: list[str] = []

    def spawn(self, payload: bytes) -> RemoteCall:
        if self.fail_spawn is not None:
            raise self.fail_spawn
        call = FakeCall(self, self.pool.submit(self.body, payload, str(self.root)))
        with self.lock:
            self.calls[call.object_id] = call
            self.spawned += 1
        return call

    def attach(self, call_id: str) -> RemoteCall:
        with self.lock:
            if call_id not in self.calls:
                raise RemoteJobFailed(f"not found on Modal (call {call_id})")
            return self.calls[call_id]

    def read_file(self, path: str) -> bytes | None:
        file = self.root / path
        return file.read_bytes() if file.is_file() else None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
