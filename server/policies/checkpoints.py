"""A training job's checkpoint in its job folder: `checkpoint.msgpack` (params, as a policy's) and
`checkpoint.json` (step, total, the progress so far), rewritten after every evaluation. A job with a
checkpoint.json can resume from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from server.files import write_atomic
from server.policies.manifest import InvalidPolicy, PolicyManifest
from server.training.types import TrainingProgress

CHECKPOINT_PARAMS = "checkpoint.msgpack"
CHECKPOINT_META = "checkpoint.json"
CHECKPOINT_FILES = (CHECKPOINT_PARAMS, CHECKPOINT_META)


class Checkpoint(msgspec.Struct, kw_only=True):
    step: int
    total_steps: int
    history: list[TrainingProgress]


def has_checkpoint(job_dir: Path) -> bool:
    return (job_dir / CHECKPOINT_META).is_file()


def write_checkpoint(job_dir: Path, params: Any, checkpoint: Checkpoint) -> None:
    from server.policies.params import params_to_bytes

    # Params first: a checkpoint.json always describes a params file at least as new as itself.
    write_atomic(job_dir / CHECKPOINT_PARAMS, params_to_bytes(params))
    write_atomic(job_dir / CHECKPOINT_META, msgspec.json.encode(checkpoint))


def read_checkpoint(job_dir: Path, manifest: PolicyManifest) -> tuple[Checkpoint, Any]:
    """The checkpoint and its params (in `manifest`'s network); InvalidPolicy if missing or unreadable."""
    from server.policies.params import params_from_bytes

    try:
        meta = msgspec.json.decode((job_dir / CHECKPOINT_META).read_bytes(), type=Checkpoint)
        data = (job_dir / CHECKPOINT_PARAMS).read_bytes()
    except (OSError, msgspec.DecodeError) as exc:
        raise InvalidPolicy(f"the checkpoint in {job_dir} is missing or unreadable ({exc})") from exc
    params = params_from_bytes(manifest, data, f"the checkpoint in {job_dir}")
    return meta, params
