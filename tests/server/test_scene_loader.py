"""The one scene loader (server/scenes/loader.py) with real Playground envs: the family, the physics
implementation, and its error type; and that nothing else in server/ loads an env by itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from server.scenes.loader import (
    Purpose,
    SceneLoadError,
    UnknownSceneError,
    load_env,
    scene_families,
)
from server.scenes.menagerie import prepare_menagerie
from server.training.types import Device

SERVER = Path(__file__).resolve().parents[2] / "server"


def test_every_caller_loads_through_the_loader() -> None:
    """Export, trace check, training and playback once each called `registry.load` their own way."""
    callers = [
        path.relative_to(SERVER).as_posix()
        for path in SERVER.rglob("*.py")
        if re.search(r"(?<![`\w.])registry\.(load|get_default_config)\(", path.read_text(encoding="utf-8"))
    ]
    assert callers == ["scenes/loader.py"]


def test_families_in_export_order() -> None:
    families = scene_families()
    assert families["CartpoleBalance"] == "classic_control"
    assert families["Go1JoystickFlatTerrain"] == "locomotion"
    assert families["PandaPickCube"] == "manipulation"
    order = list(dict.fromkeys(families.values()))
    assert order == ["classic_control", "locomotion", "manipulation"]


def test_loads_a_scene_with_the_purposes_implementation(tmp_path: Path) -> None:
    scene = load_env("CartpoleBalance", purpose="check", menagerie_dir=None)
    assert (scene.family, scene.impl, scene.episode_length) == ("classic_control", "jax", 1000)
    assert scene.env.mjx_model.impl.value == "jax"
    # AeroCubeRotateZAxis has no "impl" setting at all: it loads as it is.
    aero = load_env("AeroCubeRotateZAxis", purpose="train", menagerie_dir=prepare_menagerie(tmp_path))
    assert (aero.family, aero.impl) == ("manipulation", None)


def test_one_error_type() -> None:
    with pytest.raises(UnknownSceneError, match="unknown scene 'NoSuchScene'") as unknown:
        load_env("NoSuchScene", purpose="train", menagerie_dir=None)
    assert isinstance(unknown.value, SceneLoadError) and isinstance(unknown.value, LookupError)
    # A robot scene without the Menagerie assets fails fast (Playground would try a git clone).
    with pytest.raises(SceneLoadError, match=r"MenagerieError: .*asset wheels") as missing:
        load_env("Go1JoystickFlatTerrain", purpose="export", menagerie_dir=None)
    assert missing.value.scene_id == "Go1JoystickFlatTerrain"
    with pytest.raises(SceneLoadError, match=r"MenagerieError: Menagerie folder .* does not exist"):
        load_env("Go1JoystickFlatTerrain", purpose="export", menagerie_dir=Path("/nonexistent"))


def test_the_check_sees_the_vocabulary_a_warp_job_trains_with() -> None:
    """physics_impl's reason why the trace check may load "jax" where a GPU job trains with "warp":
    every entry a reward term may read has the same shape and dtype, and the reset state is the same.
    (Warp also runs, slowly, on the CPU: its kernels compile once, ~40 s, into ~/.cache/warp.)"""
    import jax
    import jax.numpy as jnp

    from server.rewards.context import RewardContext
    from server.rewards.vocabulary import build_entries

    def vocabulary(purpose: Purpose, device: Device) -> tuple[str | None, dict[str, Any], Any]:
        scene = load_env("CartpoleBalance", purpose=purpose, device=device, menagerie_dir=None)
        state = jax.jit(scene.env.reset)(jax.random.PRNGKey(0))
        zeros = jnp.zeros(scene.env.action_size, jnp.float32)
        ctx = RewardContext(state.data, zeros, zeros, dict(state.info))
        entries = build_entries("CartpoleBalance", scene.env)
        shapes = jax.eval_shape(lambda c: {n: e.fn(c) for n, e in entries.items()}, ctx)
        return scene.impl, {n: (s.shape, s.dtype) for n, s in shapes.items()}, state.data.qpos

    check_impl, check, check_qpos = vocabulary("check", "gpu")
    train_impl, train, train_qpos = vocabulary("train", "gpu")
    assert (check_impl, train_impl) == ("jax", "warp")
    assert check == train and "pole_angle" in check
    assert jnp.allclose(check_qpos, train_qpos)


def test_the_reacher_sees_its_shoulder_as_cos_sin_whatever_the_turns() -> None:
    """An arm turned a full circle is the same pose, so the policy's input must be the same (the raw angle
    left the range resets draw from, and kept policies spun)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    env = load_env("ReacherEasy", purpose="train", menagerie_dir=None).env
    assert env.observation_size == 7  # cos, sin, wrist, fingertip-to-target (2), velocities (2)
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    shoulder = float(state.data.qpos[0])
    np.testing.assert_allclose(state.obs[:2], [np.cos(shoulder), np.sin(shoulder)], atol=1e-6)
    turned = state.data.replace(qpos=state.data.qpos.at[0].add(2 * jnp.pi))
    np.testing.assert_allclose(env._get_obs(turned, state.info), state.obs, atol=1e-5)
    assert jax.jit(env.step)(state, jnp.ones(2)).obs.shape == (7,)
    # Scenes without a fix keep Playground's own observation.
    assert load_env("CartpoleBalance", purpose="train", menagerie_dir=None).env.observation_size == 5
