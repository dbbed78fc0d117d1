"""Worker-side scene export: load a Playground env and save the trainer's compiled model as MJB.

Everything here runs in spawned worker processes. Heavy modules (jax, mujoco_playground) are imported
inside functions so the API process can import this module for pickling function references only.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import resource
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from server.scenes.catalog import describe
from server.scenes.compat import patch_playground_compat
from server.scenes.menagerie import use_menagerie
from server.scenes.types import SceneFamily, SceneInfo

# Playground submodule -> family; the order also orders export (dm_control first: fast, no meshes).
FAMILIES: dict[str, SceneFamily] = {
    "dm_control_suite": "classic_control",
    "locomotion": "locomotion",
    "manipulation": "manipulation",
}


class ExportResult(msgspec.Struct, frozen=True, kw_only=True):
    info: SceneInfo
    seconds: float  # wall time of load + save
    peak_rss_bytes: int  # the worker's peak resident memory so far


def _playground() -> Any:
    # Exports only need the compiled model: keep JAX off any accelerator and from grabbing its memory.
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    from mujoco_playground import registry

    patch_playground_compat()
    return registry


def warm_up() -> None:
    """Import Playground (~7 s) so a fresh worker is ready when the scene list arrives."""
    _playground()


def list_scenes() -> list[tuple[str, SceneFamily]]:
    """Every Playground env id with its family, in export order (registry.ALL_ENVS order within one)."""
    registry = _playground()
    from mujoco_playground._src import dm_control_suite, locomotion, manipulation

    modules = {"dm_control_suite": dm_control_suite, "locomotion": locomotion, "manipulation": manipulation}
    owner = {sid: FAMILIES[name] for name, module in modules.items() for sid in module.ALL_ENVS}
    missing = [sid for sid in registry.ALL_ENVS if sid not in owner]
    if missing:
        raise RuntimeError(f"Playground envs in no known family: {missing}")
    order = list(FAMILIES.values())
    return sorted(((sid, owner[sid]) for sid in registry.ALL_ENVS), key=lambda item: order.index(item[1]))


def normalise_observation_size(size: int | Mapping[str, Any]) -> dict[str, list[int]]:
    """Playground gives an int for one vector, or a dict of shape tuples (or ints) per observation key."""
    if isinstance(size, int):
        return {"state": [size]}
    return {
        key: [int(value)] if isinstance(value, int) else [int(d) for d in value]
        for key, value in size.items()
    }


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def model_to_mjb(model: Any) -> bytes:
    import mujoco
    import numpy as np

    buf = np.zeros(mujoco.mj_sizeModel(model), dtype=np.uint8)
    mujoco.mj_saveModel(model, None, buf)
    return buf.tobytes()


def write_scene(info: SceneInfo, mjb: bytes, out_dir: Path) -> None:
    """Write `<id>.mjb.gz` then `<id>.json`; the JSON appears last, so its presence means complete."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(out_dir / f"{info.id}.mjb.gz", gzip.compress(mjb, compresslevel=6, mtime=0))
    _atomic_write(out_dir / f"{info.id}.json", msgspec.json.encode(info))


def export_scene(scene_id: str, out_dir: Path, menagerie_dir: Path) -> SceneInfo:
    """Load `scene_id` exactly as the trainer does (impl "jax") and write its model and description."""
    registry = _playground()
    import mujoco

    family = dict(list_scenes()).get(scene_id)
    if family is None:
        raise KeyError(f"unknown Playground env {scene_id!r}")
    if family != "classic_control":  # dm_control XMLs ship inside the playground wheel
        use_menagerie(menagerie_dir)
    # Warp is the default impl and is slow on CPU; one env (AeroCubeRotateZAxis) has no impl key at all.
    overrides = {"impl": "jax"} if "impl" in registry.get_default_config(scene_id) else None
    env = registry.load(scene_id, config_overrides=overrides)
    model = env.mj_model
    mjb = model_to_mjb(model)
    sim_dt = float(getattr(env, "sim_dt", model.opt.timestep))
    ctrl_dt = float(env.dt)
    name, robot = describe(scene_id)
    info = SceneInfo(
        id=scene_id,
        name=name,
        family=family,
        robot=robot,
        num_actuators=int(model.nu),
        action_size=int(env.action_size),
        observation_size=normalise_observation_size(env.observation_size),
        ctrl_dt=ctrl_dt,
        sim_dt=sim_dt,
        n_substeps=int(getattr(env, "n_substeps", round(ctrl_dt / sim_dt))),
        keyframes=[model.key(i).name for i in range(model.nkey)],
        model_bytes=len(mjb),
        model_sha256=hashlib.sha256(mjb).hexdigest(),
        mujoco_version=mujoco.__version__,
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
