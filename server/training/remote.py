"""The body of the Modal training function, free of Modal so it runs (and is tested) anywhere.

`run_remote_job(payload, root)` takes the job's job.json bytes, lays out `root/jobs/<job_id>/` exactly as a
local job folder, and calls the local worker's own `server.training.worker.run` there: the same training
function, the same progress events (events.jsonl) and the same policy files (`policy/`). The reward program
arrives as source inside the JobSpec and is checked again here (`runner.train` -> `compile_program` runs
the static check against the scene's vocabulary before anything executes it). A retry of the same call
finds the checkpoint and continues from it. Returns the final event's JSON line.

On Modal `root` is the mounted Volume; the client reads events.jsonl and the policy files back from it.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from server.policies.checkpoints import has_checkpoint
from server.training.protocol import EVENTS_FILE, JOB_FILE, FailedEvent, Job

GPU = "H100"  # the card each Modal call runs on
VOLUME_MOUNT = "/robocoach"
_JOB_ID = re.compile(r"[0-9a-f]{32}")


def job_path(job_id: str, *parts: str) -> str:
    """A job's file on the Volume, relative to its root (as `Volume.read_file` takes it)."""
    return "/".join(("jobs", job_id, *parts))


def run_remote_job(payload: bytes, root: Path) -> bytes:
    from server.training.worker import EventWriter, run

    try:
        job = msgspec.json.decode(payload, type=Job)
    except msgspec.DecodeError as exc:
        return msgspec.json.encode(FailedEvent(f"the remote job was malformed: {exc}"))
    if job.job_id is None or not _JOB_ID.fullmatch(job.job_id):
        return msgspec.json.encode(FailedEvent("the remote job has no valid job id"))
    if job.base_params_dir is not None:
        return msgspec.json.encode(FailedEvent("fine-tuning a saved policy runs on the local backend"))
    job_dir = root / job_path(job.job_id)
    job_dir.mkdir(parents=True, exist_ok=True)
    resume = has_checkpoint(job_dir)  # a Modal retry of this call: continue, don't restart
    remote_job = msgspec.structs.replace(job, scene_cache_dir=str(root / "cache"), resume=resume)
    (job_dir / JOB_FILE).write_bytes(msgspec.json.encode(remote_job))
    with (job_dir / EVENTS_FILE).open("ab") as stream:
        run(job_dir, EventWriter(stream))
    lines = (job_dir / EVENTS_FILE).read_bytes().rstrip(b"\n").splitlines()
    return lines[-1] if lines else msgspec.json.encode(FailedEvent("the remote run reported nothing"))
