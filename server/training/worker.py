"""The training worker process: `python -m server.training.worker JOB_DIR`. One process per job.

Protocol (the job manager codes against this):

- Input: `JOB_DIR/job.json` =
  `{"spec": JobSpec, "scene_cache_dir": str, "resume": bool, "base_params_dir": str | null}`
  (optional extra keys: `"job_id": str | null`, `"policy_id": str | null`; the policy id defaults to a uuid).
- Output: JSON lines appended to `JOB_DIR/events.jsonl`, each flushed as written:
  - `{"type": "progress", "progress": TrainingProgress}` at step 0 and after every evaluation;
  - then exactly one of `{"type": "succeeded", "manifest": PolicyManifest}` (the policy is in
    `JOB_DIR/policy/`: params.msgpack + manifest.json) or `{"type": "failed", "error": str}` (a message
    for the user, naming the reward term when known).
  A line is complete only when it ends with a newline; a reader must ignore a partial last line (the
  process may be killed mid-write).
- Exit code 0 after "succeeded", 1 after "failed". Anything else (a kill, an OOM, an rlimit) means the
  process died; the manager decides from the events what happened (no final event -> crashed).
- Work files: `JOB_DIR/checkpoint.msgpack` + `checkpoint.json` after each eval (used by `resume: true`),
  `JOB_DIR/live/` (the live preview's newest params: at the start, then after each eval, before its
  progress line), `JOB_DIR/policy/` at the end. Logs go to stderr (the manager should point it at a log
  file).
- Stopping: SIGINT and SIGTERM are ignored (a Ctrl+C to the process group must not read as a failure);
  the manager cancels with SIGKILL.

Model-written reward code runs here, so, as the reward trace worker, the backend starts it with an
allow-listed environment (`server.sandbox.environment.worker_env`) and its first act is
`server.sandbox.confine.confine`: files limited to the job folder (read-write), the scene cache and the
base policy (read-only), no network, no core files, bounded address space on the CPU. The XLA persistent
compilation cache lives in `<scene_cache_dir>/jax-compilation`, shared with that worker.

Training is background work on the cores the user's playback, preview and API also need: before anything
else the worker lowers its own priority (`yield_cpu` in server/workers.py: nice 19 and SCHED_IDLE,
inherited by every thread XLA starts later), so those stay responsive and training gets the rest.
Lowering is always allowed, also after `confine` has dropped every capability. (The reward trace worker
is not lowered: the user waits for its answer.)
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import IO, Any

import msgspec

from server.sandbox.confine import Confinement, confine
from server.training.protocol import (
    EVENTS_FILE,
    JOB_FILE,
    Event,
    FailedEvent,
    Job,
    ProgressEvent,
    SucceededEvent,
)
from server.workers import yield_cpu


class EventWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def write(self, event: Event) -> None:
        self.stream.write(msgspec.json.encode(event) + b"\n")
        self.stream.flush()
        os.fsync(self.stream.fileno())


def run(job_dir: Path, events: EventWriter) -> int:
    from server.training.runner import TrainingFailed, train

    job = msgspec.json.decode((job_dir / JOB_FILE).read_bytes(), type=Job)
    cache = Path(job.scene_cache_dir)
    import jax

    # Each new reward is a new program, but the env's reset/step and brax's plumbing still hit the cache.
    jax.config.update("jax_compilation_cache_dir", str(cache / "jax-compilation"))  # type: ignore[no-untyped-call]
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)  # type: ignore[no-untyped-call]
    try:
        manifest = train(
            job.spec,
            scene_cache_dir=cache,
            work_dir=job_dir,
            report=lambda progress: events.write(ProgressEvent(progress)),
            resume=job.resume,
            base_params_dir=Path(job.base_params_dir) if job.base_params_dir else None,
            job_id=job.job_id,
            policy_id=job.policy_id,
        )
    except TrainingFailed as exc:
        events.write(FailedEvent(str(exc)))
        return 1
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        events.write(FailedEvent(f"training crashed: {type(exc).__name__}: {exc}"[:2000]))
        return 1
    events.write(SucceededEvent(manifest))
    return 0


def confinement(job_dir: Path) -> Confinement:
    """What a training job may touch: its folder, and read-only the scene cache and its base policy."""
    read: list[Path] = []
    write = [job_dir]
    try:
        job = msgspec.json.decode((job_dir / JOB_FILE).read_bytes(), type=Job)
    except (OSError, msgspec.DecodeError):
        pass  # run() reports the bad job file
    else:
        read.append(Path(job.scene_cache_dir))
        write.append(Path(job.scene_cache_dir) / "jax-compilation")
        if job.base_params_dir:
            read.append(Path(job.base_params_dir))
    gpu = os.environ.get("JAX_PLATFORMS") != "cpu" and Path("/proc/driver/nvidia").exists()
    return Confinement(read=tuple(read), write=tuple(write), gpu=gpu)


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m server.training.worker JOB_DIR", file=sys.stderr)
        return 2
    yield_cpu()
    job_dir = Path(args[0]).resolve()
    confine(confinement(job_dir))
    with (job_dir / EVENTS_FILE).open("ab") as stream:
        events = EventWriter(stream)
        try:
            return run(job_dir, events)
        except Exception as exc:  # a bad job.json: still end with a "failed" line
            traceback.print_exc(file=sys.stderr)
            events.write(FailedEvent(f"cannot start the job: {type(exc).__name__}: {exc}"[:2000]))
            return 1


if __name__ == "__main__":
    sys.exit(main())
