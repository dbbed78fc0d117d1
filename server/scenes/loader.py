"""The one place a Playground environment is loaded: scene export, the reward trace check, training and
live playback all call `load_env`.

It applies the MuJoCo compatibility patch (compat.py), points Playground at the Menagerie robots
(menagerie.py), fixes observations that mislead a policy (observations.py), picks the MJX physics
implementation (`physics_impl`, the one rule for every caller), knows each scene's family, and reports
every failure as `SceneLoadError`. Worker processes only: jax and mujoco_playground are imported inside
functions, so the API process may import this module.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from server.scenes.compat import patch_playground_compat
from server.scenes.menagerie import MenagerieError, prepare_menagerie, use_menagerie
from server.scenes.observations import fix_observation
from server.scenes.types import SceneFamily
from server.training.types import Device

log = logging.getLogger(__name__)

Impl = Literal["jax", "warp"]
# Who loads the scene; `physics_impl` decides the implementation from it.
Purpose = Literal["export", "check", "train", "playback"]
MJX_IMPL_ENV = "ROBOCOACH_MJX_IMPL"  # "jax" or "warp": overrides training's choice (a worker env var)

# Playground submodule -> family; the order also orders export (dm_control first: fast, no meshes).
FAMILIES: dict[str, SceneFamily] = {
    "dm_control_suite": "classic_control",
    "locomotion": "locomotion",
    "manipulation": "manipulation",
}


class SceneLoadError(RuntimeError):
    """A scene's environment cannot be loaded. The message says why, for the user (no scene id prefix:
    callers add their own context)."""

    def __init__(self, scene_id: str, message: str) -> None:
        super().__init__(message)
        self.scene_id = scene_id


class UnknownSceneError(SceneLoadError, LookupError):
    """The id is not a Playground environment."""

    def __init__(self, scene_id: str) -> None:
        super().__init__(scene_id, f"unknown scene {scene_id!r}")


@dataclass(frozen=True)
class LoadedScene:
    env: Any  # the Playground MjxEnv
    family: SceneFamily
    episode_length: int  # control steps per episode, from the scene's Playground config
    impl: str | None  # the MJX implementation asked of Playground; None where the env has no such setting


def physics_impl(purpose: Purpose, device: Device = "cpu") -> Impl | None:
    """The MJX implementation a scene loads with; None means the scene's own Playground config.

    Training: "jax" on the CPU, where it compiles about 3x and steps about 20x faster than warp; on a GPU
    the scene's own config ("warp" for almost every scene, what Playground's published GPU timings use),
    and `load_env` falls back to "jax" if that cannot load. ROBOCOACH_MJX_IMPL=jax|warp overrides both.

    Export, the trace check and playback always load "jax", even on a machine whose training loads
    "warp": their workers pin JAX to the CPU (small, latency-bound work that must not take the card from
    training), where "jax" is the fast choice. The difference does not reach what they produce: the
    implementation only decides how `mjx.put_model` places the model and which engine steps it, so
    `env.mj_model` (the exported MJB the browser steps) is identical, and reward terms read `mjx.Data`
    fields (qpos, xpos, sensordata...) that both fill with the same shapes, so a program that passes the
    check traces the same under warp; values differ only by the engines' numerical error.
    """
    if purpose != "train":
        return "jax"
    chosen = os.environ.get(MJX_IMPL_ENV, "").strip().lower()
    if chosen == "jax":
        return "jax"
    if chosen == "warp":
        return "warp"
    return "jax" if device == "cpu" else None


@functools.cache
def playground() -> Any:
    """Playground's registry, imported (~7 s) and patched. Call it to warm a fresh worker."""
    from mujoco_playground import registry

    patch_playground_compat()
    return registry


def scene_families() -> dict[str, SceneFamily]:
    """Every Playground env id with its family, families in `FAMILIES` order, ids in registry order."""
    import importlib

    registry = playground()
    owner = {
        sid: family
        for module, family in FAMILIES.items()
        for sid in importlib.import_module(f"mujoco_playground._src.{module}").ALL_ENVS
    }
    missing = [sid for sid in registry.ALL_ENVS if sid not in owner]
    if missing:
        raise RuntimeError(f"Playground envs in no known family: {missing}")
    order = list(FAMILIES.values())
    ids = sorted(registry.ALL_ENVS, key=lambda sid: order.index(owner[sid]))
    return {sid: owner[sid] for sid in ids}


def scene_family(scene_id: str) -> SceneFamily:
    family = scene_families().get(scene_id)
    if family is None:
        raise UnknownSceneError(scene_id)
    return family


def find_menagerie(cache_dir: Path) -> Path | None:
    """The Menagerie folder under `cache_dir`, or None if the asset wheels are missing (classic-control
    scenes still load; the others then fail with a MenagerieError)."""
    with contextlib.suppress(MenagerieError):
        return prepare_menagerie(cache_dir)
    return None


def load_env(
    scene_id: str,
    *,
    purpose: Purpose,
    device: Device = "cpu",
    menagerie_dir: Path | None,
    config_overrides: Callable[[Any], dict[str, Any]] | None = None,
) -> LoadedScene:
    """Load `scene_id` for `purpose` on `device` with `physics_impl`'s implementation (None there keeps
    the config's own, falling back to "jax" if that fails to load).

    `menagerie_dir` is the folder `prepare_menagerie` built (None if the asset wheels are missing).
    `config_overrides(default_config)` adds config overrides (playback switches observation noise off).
    Raises UnknownSceneError for an id Playground does not have, SceneLoadError if the env fails to load.
    """
    impl = physics_impl(purpose, device)
    registry = playground()
    family = scene_family(scene_id)
    try:
        if family != "classic_control":  # dm_control XMLs ship inside the playground wheel
            if menagerie_dir is None:
                raise MenagerieError("the Menagerie asset wheels are missing, so robot scenes cannot load")
            use_menagerie(menagerie_dir)
        config = registry.get_default_config(scene_id)
        overrides = config_overrides(config) if config_overrides is not None else {}
        # One env (AeroCubeRotateZAxis) has no impl key at all; it loads as it is.
        asked: str | None = None
        if "impl" not in config:
            env = registry.load(scene_id, config_overrides=overrides or None)
        elif impl is not None or config.impl == "jax":
            asked = impl or "jax"
            env = registry.load(scene_id, config_overrides=overrides | {"impl": asked})
        else:
            try:
                asked = str(config.impl)
                env = registry.load(scene_id, config_overrides=overrides | {"impl": asked})
            except Exception:
                log.warning("%s: MJX impl %r failed to load; using 'jax'", scene_id, asked, exc_info=True)
                asked = "jax"
                env = registry.load(scene_id, config_overrides=overrides | {"impl": asked})
    except Exception as exc:
        raise SceneLoadError(scene_id, f"{type(exc).__name__}: {exc}") from exc
    fix_observation(scene_id, env)
    return LoadedScene(env=env, family=family, episode_length=int(config.episode_length), impl=asked)
