"""Policies for playback tests: an untrained policy (random initial weights) saved like a trained one."""

from __future__ import annotations

from pathlib import Path

import msgspec

from server.policies.library import PolicyLibrary
from server.policies.manifest import PolicyManifest
from server.policies.params import params_template, save_policy
from server.settings import Settings, load_settings
from server.training.presets import build_config
from server.training.runner import _draft_manifest, load_scene
from server.training.types import JobSpec
from tests.conftest import TEST_PORT

PROGRAMS = {
    "CartpoleBalance": (
        '"""Pole up."""\n\nWEIGHTS = dict(up=1.0)\n\n\ndef up(s):\n    return jnp.cos(s.pole_angle)\n'
    ),
    "Go1JoystickFlatTerrain": (
        '"""Walk forward."""\n\nWEIGHTS = dict(forward=1.0, smooth=-0.1)\n\n\n'
        "def forward(s):\n    return s.base_lin_vel[0]\n\n\n"
        "def smooth(s):\n    return jnp.sum(jnp.square(s.action - s.prev_action))\n"
    ),
}


def save_untrained_policy(directory: Path, scene_id: str, scene_cache: Path) -> PolicyManifest:
    """A policy folder for `scene_id` whose network has its initial (random, nonzero) weights."""
    spec = JobSpec(scene_id=scene_id, program=PROGRAMS[scene_id], name=f"untrained {scene_id}")
    scene = load_scene(scene_id, scene_cache)
    config = build_config(
        "cpu_quick", scene_id=scene_id, family=scene.family, episode_length=scene.episode_length
    )
    manifest = _draft_manifest(spec, scene, config, job_id=None, policy_id=None)
    return save_policy(directory, params_template(manifest), manifest)


def app_with_untrained_policy(root: Path, scene_id: str, scene_cache: Path) -> tuple[Settings, str]:
    """Settings for an app whose data lives under `root` (scenes from `scene_cache`, none built on
    start) and the id of an untrained `scene_id` policy added to its library."""
    settings = msgspec.structs.replace(
        load_settings(data_dir=root / "data", port=TEST_PORT),
        build_scenes_on_start=False,
        cache_dir=scene_cache,
    )
    staging = settings.data_dir / "policies" / "staging-test"
    save_untrained_policy(staging, scene_id, scene_cache)
    return settings, PolicyLibrary(settings.data_dir).add(staging).policy_id
