"""Does live playback's generic approach hold for every Playground env? For each scene: build the playback
model for an untrained policy (observation noise off), and trace (not compile) its reset and step
functions, which checks that the env's step advances physics through `mjx_env.step` exactly once and
that the traced step runs with browser-supplied states. Prints one line per scene and a summary.

    .venv/bin/python scripts/check_playback_scenes.py [--cache-dir DIR] [SCENE ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax
import jax.numpy as jnp

from server.inference.session import BrowserState, PlaybackModel
from server.policies.params import params_template, save_policy
from server.settings import load_settings
from server.training.presets import build_config
from server.training.runner import _draft_manifest, load_scene
from server.training.types import JobSpec

# Reads only what every scene has, so one program serves them all.
PROGRAM = (
    '"""Small effort."""\n\nWEIGHTS = dict(effort=-0.01)\n\n\n'
    "def effort(s):\n    return jnp.mean(jnp.square(s.action))\n"
)


def check(scene_id: str, cache_dir: Path, work: Path) -> str:
    scene = load_scene(scene_id, cache_dir)
    spec = JobSpec(scene_id=scene_id, program=PROGRAM)
    config = build_config(
        "cpu_quick", scene_id=scene_id, family=scene.family, episode_length=scene.episode_length
    )
    manifest = _draft_manifest(spec, scene, config, job_id=None, policy_id=None)
    directory = work / scene_id
    save_policy(directory, params_template(manifest), manifest)
    model = PlaybackModel(directory, cache_dir)
    state, action, ctrl = jax.eval_shape(model._begin_impl, model.params, jax.random.PRNGKey(0), None)
    zeros = BrowserState(
        qpos=jnp.zeros(model.nq),
        qvel=jnp.zeros(model.nv),
        act=jnp.zeros(model.na),
        time=jnp.zeros(()),
        qacc_warmstart=jnp.zeros(model.nv),
    )
    _, _, ctrl2 = jax.eval_shape(model._advance_impl, model.params, state, action, zeros, zeros, None)
    assert ctrl.shape == ctrl2.shape == (model.nu,), (ctrl.shape, ctrl2.shape)
    command = f", command {model.command.names}" if model.command else ""
    return f"nq {model.nq} nu {model.nu} substeps {model.substeps}{command}"


def main() -> None:
    from mujoco_playground import registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=load_settings().cache_dir)
    parser.add_argument("scenes", nargs="*")
    args = parser.parse_args()
    scenes = args.scenes or list(registry.ALL_ENVS)
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for scene_id in scenes:
            started = time.perf_counter()
            try:
                result = "ok   " + check(scene_id, args.cache_dir, Path(tmp))
            except Exception as exc:
                failed.append(scene_id)
                result = f"FAIL {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            print(f"{scene_id:40} {time.perf_counter() - started:5.1f} s  {result}", flush=True)
    print(f"{len(scenes) - len(failed)}/{len(scenes)} scenes trace for playback; failed: {failed or 'none'}")


if __name__ == "__main__":
    main()
