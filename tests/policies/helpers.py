"""Policies for store tests without training: the fake worker's manifest beside stand-in params bytes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import msgspec

from server.policies.library import PolicyLibrary
from server.policies.manifest import MANIFEST_FILE, PARAMS_FILE, PolicyManifest
from server.training.types import JobSpec, TrainingProgress
from tests.training.fake_worker import manifest_for

PROGRAM = '''"""Keep the pole up."""
WEIGHTS = dict(upright=1.0)


def upright(s):
    return jnp.cos(s.pole_angle)
'''
HISTORY = [
    TrainingProgress(
        step=0, total_steps=10, eval_reward=1.5, reward_terms={"upright": 1.5}, task_reward=1.0,
        steps_per_second=0.0, elapsed_s=1.0, eta_s=None,
    )
]  # fmt: skip


def stage_policy(
    folder: Path, *, params: bytes = b"params", program: str = PROGRAM, name: str = "My: policy/1"
) -> PolicyManifest:
    """A complete policy folder (as a finished job leaves it) at `folder`."""
    spec = JobSpec(scene_id="CartpoleBalance", program=program, name=name)
    manifest = manifest_for(spec, params, HISTORY)
    folder.mkdir(parents=True)
    (folder / PARAMS_FILE).write_bytes(params)
    (folder / MANIFEST_FILE).write_bytes(msgspec.json.encode(manifest))
    return manifest


def add_policy(
    library: PolicyLibrary, *, program: str = PROGRAM, name: str = "My: policy/1"
) -> PolicyManifest:
    """A policy adopted by `library` as a finished training job's would be."""
    staging = library.root / f"staging-{len(list(library.root.iterdir()))}"
    stage_policy(staging, program=program, name=name)
    return library.add(staging)


def rezip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def archive_with(manifest: PolicyManifest, params: bytes, **changes: object) -> bytes:
    """A `.robocoach` file of `manifest` (with `changes`) and `params`."""
    data = msgspec.json.encode(msgspec.structs.replace(manifest, **changes))
    return rezip({MANIFEST_FILE: data, PARAMS_FILE: params})
