"""Worker-side scene export: load a Playground env and save the trainer's compiled model as MJB.

Everything here runs in spawned worker processes. Heavy modules (jax, mujoco_playground) are imported
inside functions so the API process can import this module for pickling function references only.
"""

from __future__ import annotations

import gzip
import os
import resource
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from server.files import sha256_bytes, write_atomic
from server.inference.env_config import env_command_spec
from server.scenes import loader
from server.scenes.catalog import scene_metadata
from server.scenes.types import SceneFamily, SceneInfo


class ExportResult(msgspec.Struct, frozen=True, kw_only=True):
    info: SceneInfo
    seconds: float  # wall time of load + save
    peak_rss_bytes: int  # the worker's peak resident memory so far


def _playground() -> None:
    # Exports only need the compiled model: keep JAX off any accelerator and from grabbing its memory.
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    loader.playground()


def warm_up() -> None:
    """Import Playground (~7 s) so a fresh worker is ready when the scene list arrives."""
    _playground()


def list_scenes() -> list[tuple[str, SceneFamily]]:
    """Every Playground env id with its family, in export order (registry.ALL_ENVS order within one)."""
    _playground()
    return list(loader.scene_families().items())


def normalise_observation_size(size: int | Mapping[str, Any]) -> dict[str, list[int]]:
    """Playground gives an int for one vector, or a dict of shape tuples (or ints) per observation key."""
    if isinstance(size, int):
        return {"state": [size]}
    return {
        key: [int(value)] if isinstance(value, int) else [int(d) for d in value]
        for key, value in size.items()
    }


def model_to_mjb(model: Any) -> bytes:
    import mujoco
    import numpy as np

    buf = np.zeros(mujoco.mj_sizeModel(model), dtype=np.uint8)
    mujoco.mj_saveModel(model, None, buf)
    return buf.tobytes()


def write_scene(info: SceneInfo, mjb: bytes, out_dir: Path) -> None:
    """Write `<id>.mjb.gz` then `<id>.json`; the JSON appears last, so its presence means complete."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / f"{info.id}.mjb.gz", gzip.compress(mjb, compresslevel=6, mtime=0))
    write_atomic(out_dir / f"{info.id}.json", msgspec.json.encode(info))


def export_scene(scene_id: str, out_dir: Path, menagerie_dir: Path) -> SceneInfo:
    """Load `scene_id` through the one loader and write its compiled model and description.

    The model is the trainer's: `env.mj_model` does not depend on the MJX implementation (loader.py).
    """
    _playground()
    import mujoco

    scene = loader.load_env(scene_id, purpose="export", menagerie_dir=menagerie_dir)
    env = scene.env
    model = env.mj_model
    mjb = model_to_mjb(model)
    sim_dt = float(getattr(env, "sim_dt", model.opt.timestep))
    ctrl_dt = float(env.dt)
    meta = scene_metadata(scene_id, scene.family)
    info = SceneInfo(
        id=scene_id,
        name=meta.name,
        family=scene.family,
        robot=meta.robot,
        kind=meta.kind,
        examples=meta.examples,
        num_actuators=int(model.nu),
        action_size=int(env.action_size),
        observation_size=normalise_observation_size(env.observation_size),
        ctrl_dt=ctrl_dt,
        sim_dt=sim_dt,
        n_substeps=int(getattr(env, "n_substeps", round(ctrl_dt / sim_dt))),
        keyframes=[model.key(i).name for i in range(model.nkey)],
        model_bytes=len(mjb),
        model_sha256=sha256_bytes(mjb),
        mujoco_version=mujoco.__version__,
        # Only locomotion envs take a command (the joystick ones); tracing reset for the others costs time.
        command=env_command_spec(env) if scene.family == "locomotion" else None,
    )
    write_scene(info, mjb, out_dir)
    return info


def peak_rss_bytes() -> int:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def run_export(scene_id: str, out_dir: Path, menagerie_dir: Path) -> ExportResult:
    """The task the registry submits: export plus timing and memory for its logs."""
    start = time.perf_counter()
    info = export_scene(scene_id, out_dir, menagerie_dir)
    return ExportResult(info=info, seconds=time.perf_counter() - start, peak_rss_bytes=peak_rss_bytes())
