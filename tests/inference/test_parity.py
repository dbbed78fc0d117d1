"""Observation parity: the playback session, fed the states a physics engine produced, sees exactly what
the training env computes for those states: observations, per-episode memory (`info`), reward terms and
the ctrl applied for an action. Real Playground envs, real MJX; the reference is the env's own `step`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from mujoco_playground._src import mjx_env

from server.inference.env_config import playback_overrides
from server.inference.protocol import Action, PhysicsState, decode_server, encode, from_bytes, to_bytes
from server.inference.session import PlaybackModel, PlaybackSession, physics
from server.rewards.compile import compile_program
from server.rewards.reward_env import RewardEnv, term_metric
from server.rewards.vocabulary import build_entries
from server.training.runner import load_scene
from tests.inference.policies import save_untrained_policy

STEPS = 12
TOLERANCE = 1e-5
ORIGINAL_PHYSICS = mjx_env.step


class Reference:
    """The training env (noise off, as playback), stepped by its own physics, recording for each step
    the state before the last substep and after it, as the browser would send them."""

    def __init__(self, manifest: Any, scene_cache: Path) -> None:
        scene = load_scene(manifest.scene_id, scene_cache, extra_overrides=playback_overrides)
        compiled = compile_program(manifest.program, build_entries(manifest.scene_id, scene.env))
        self.env = RewardEnv(scene.env, compiled)
        self.names = compiled.names
        self.reset = jax.jit(self.env.reset)
        self.step = jax.jit(self.env.step)  # untouched: what training runs
        self.recorded_step = jax.jit(self._recorded_step)
        self.command: Any = None

    def hold_command(self, state: Any) -> Any:
        """A joystick env resamples its command now and then; playback holds the user's instead."""
        if self.command is None:
            return state
        return state.replace(info=state.info | {"command": self.command})

    def _recorded_step(self, state: Any, action: Any) -> tuple[Any, Any, Any]:
        seen: dict[str, Any] = {}

        def split(model: Any, data: Any, ctrl: Any, n_substeps: int = 1) -> Any:
            data = ORIGINAL_PHYSICS(model, data, ctrl, n_substeps - 1) if n_substeps > 1 else data
            seen["before"] = (data.qpos, data.qvel, data.act, data.time, data.qacc_warmstart)
            data = ORIGINAL_PHYSICS(model, data, ctrl, 1)
            seen["after"] = (data.qpos, data.qvel, data.act, data.time, data.qacc_warmstart)
            seen["ctrl"] = ctrl
            return data

        with physics(split):
            stepped = self.env.step(state, action)
        return stepped, (seen["before"], seen["after"]), seen["ctrl"]


def as_physics_state(arrays: Any) -> PhysicsState:
    qpos, qvel, act, time, warmstart = jax.device_get(arrays)
    return PhysicsState(
        qpos=to_bytes(qpos),
        qvel=to_bytes(qvel),
        act=to_bytes(act),
        time=float(time),
        qacc_warmstart=to_bytes(warmstart),
    )


def assert_trees_close(actual: Any, expected: Any, what: str, tolerance: float = TOLERANCE) -> float:
    worst = 0.0
    expected_leaves = jax.tree_util.tree_leaves(expected)
    for (path, a), e in zip(jax.tree_util.tree_leaves_with_path(actual), expected_leaves, strict=True):
        a_np, e_np = np.asarray(a, np.float64), np.asarray(e, np.float64)
        assert a_np.shape == e_np.shape, (what, jax.tree_util.keystr(path))
        error = float(np.max(np.abs(a_np - e_np))) if a_np.size else 0.0
        assert error <= tolerance, f"{what}{jax.tree_util.keystr(path)} differs by {error:.3g}"
        worst = max(worst, error)
    return worst


@pytest.fixture(scope="module", params=["CartpoleBalance", "Go1JoystickFlatTerrain"])
def playback(
    request: pytest.FixtureRequest, scene_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PlaybackModel, Reference]]:
    directory = tmp_path_factory.mktemp("policy") / "policy"
    manifest = save_untrained_policy(directory, request.param, scene_cache)
    yield PlaybackModel(directory, scene_cache), Reference(manifest, scene_cache)


def test_session_sees_what_the_training_env_computes(playback: tuple[PlaybackModel, Reference]) -> None:
    model, ref = playback
    session = PlaybackSession(model)
    state = ref.reset(jax.random.PRNGKey(7))
    if model.command is not None:  # the user holds the command the env drew for this episode
        ref.command = state.info["command"]
        session.set_command([float(v) for v in ref.command])
    episode = session.reset(seed=7)
    assert_trees_close(session.state.obs, state.obs, "reset obs")
    np.testing.assert_array_equal(from_bytes(episode.qpos, model.nq, "qpos"), np.asarray(state.data.qpos))

    ctrl = from_bytes(episode.ctrl, model.nu, "ctrl")
    for seq in range(STEPS):
        action = session.action
        expected, (before, after), applied = ref.recorded_step(state, action)
        expected = ref.hold_command(expected)
        # Splitting the substep loop to record the state in between changes only float32 rounding in
        # the physics (a different XLA loop), not what the env computes: the same state to ~1e-4.
        untouched = ref.hold_command(ref.step(state, action))
        assert_trees_close(expected.obs, untouched.obs, "recording changed obs", tolerance=1e-3)
        # The ctrl sent to the browser for this action is the one the env applied.
        np.testing.assert_allclose(ctrl, np.asarray(applied), atol=TOLERANCE)

        reply = decode_server(encode(session.step(seq, as_physics_state(before), as_physics_state(after))))
        assert isinstance(reply, Action)
        assert reply.seq == seq and reply.step == seq + 1

        # Given the same physics states, the session's env state equals the training env's.
        assert_trees_close(session.state.obs, expected.obs, f"step {seq} obs")
        shared = {k: v for k, v in expected.info.items() if k in session.state.info}
        assert_trees_close({k: session.state.info[k] for k in shared}, shared, f"step {seq} info")
        for name, value in zip(ref.names, reply.terms, strict=True):
            assert abs(value - float(expected.metrics[term_metric(name)])) <= TOLERANCE, name
        assert abs(reply.reward - float(expected.reward)) <= TOLERANCE
        assert reply.done == bool(expected.done)
        state = expected
        ctrl = from_bytes(reply.ctrl, model.nu, "ctrl")


def test_joystick_command_reaches_the_observation(playback: tuple[PlaybackModel, Reference]) -> None:
    model, _ref = playback
    session = PlaybackSession(model)
    if model.command is None:
        with pytest.raises(ValueError, match="no command"):
            session.set_command([1.0])
        return
    assert model.command.names[0] == "forward velocity"
    drawn = session.reset(seed=1).command  # by default the env draws commands, as in training
    assert drawn is not None and len(drawn) == 3
    session.set_command([100.0, 0.0, -0.5])  # held from now on, clipped to the env's range
    held = [model.command.high[0], 0.0, -0.5]
    episode = session.reset(seed=1)
    pose = PhysicsState(
        qpos=episode.qpos,
        qvel=episode.qvel,
        act=episode.act,
        time=episode.time,
        qacc_warmstart=to_bytes(np.zeros(model.nv)),
    )
    for seq in range(3):
        reply = session.step(seq, pose, pose)
        assert reply.command == pytest.approx(held)
        observed = np.asarray(session.state.obs["state"])
        assert np.allclose(observed[-3:], held), "the held command is not what the policy observes"
