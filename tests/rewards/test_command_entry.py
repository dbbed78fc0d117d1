"""`s.command`: a joystick scene's current command in the vocabulary, and the built-in drafter's base task
for such a scene ("follow the joystick command"), which tracks it, validated by the real RewardChecker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from server.commands.types import CommandSpec
from server.llm.builtin import draft_builtin, draft_builtin_check, parse
from server.planning.bases import JOYSTICK_TASK, base_task
from server.scenes.types import SceneInfo
from tests.rewards.harness import Harness, open_harness

GO1 = "Go1JoystickFlatTerrain"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from open_harness(tmp_path_factory, "rewards")


def test_go1_vocabulary_has_the_command_and_cartpole_does_not(harness: Harness) -> None:
    go1 = {e.name: e for e in harness.run(harness.checker.vocabulary(GO1)).entries}
    assert go1["command"].shape == [3]
    text = go1["command"].description
    assert "forward velocity (m/s)" in text and "turning velocity (rad/s)" in text
    assert "[-1.5, 1.5]" in text  # Go1's forward range, from its command_config
    cartpole = {e.name for e in harness.run(harness.checker.vocabulary("CartpoleBalance")).entries}
    assert "command" not in cartpole and "pole_angle" in cartpole


def test_the_own_task_of_a_joystick_scene_follows_the_command() -> None:
    go1 = SceneInfo(
        id=GO1, name="Go1 Joystick Flat Terrain", family="locomotion", robot="Unitree Go1", kind="quadruped",
        examples=[], num_actuators=12, action_size=12, observation_size={"state": [48]}, ctrl_dt=0.02,
        sim_dt=0.004, n_substeps=5, keyframes=["home"], model_bytes=1, model_sha256="0", mujoco_version="0",
        command=CommandSpec(names=["forward velocity", "sideways velocity", "turning velocity"],
                            low=[-1.5, -0.8, -1.2], high=[1.5, 0.8, 1.2]),
    )  # fmt: skip
    assert base_task(go1) == JOYSTICK_TASK
    assert parse(JOYSTICK_TASK).follow_command
    # A locomotion scene whose env takes no command keeps its family's sentence.
    assert base_task(msgspec.structs.replace(go1, command=None)) == "walk forward at 0.5 m/s"
    assert not parse("make the dog walk backwards").follow_command


def test_go1_own_task_drafts_a_command_tracking_reward_and_check(harness: Harness) -> None:
    vocabulary = harness.run(harness.checker.vocabulary(GO1))
    reward = draft_builtin(JOYSTICK_TASK, GO1, vocabulary)
    check = draft_builtin_check(JOYSTICK_TASK, GO1, vocabulary)
    assert "s.command[0:2]" in reward and "s.command[2]" in reward and "s.base_lin_vel[0:2]" in reward
    assert "s.command[:, 0:2]" in check and "jnp.min(s.alive)" in check
    started = time.perf_counter()
    report = harness.run(harness.checker.validate(GO1, reward))
    assert report.ok, (report.errors, reward)
    assert {t.name for t in report.terms} >= {"track_velocity", "track_yaw_rate", "upright", "effort"}
    check_report = harness.run(harness.checker.validate_check(GO1, check))
    assert check_report.ok, (check_report.errors, check)
    bounds = {f.name: (f.at_least, f.at_most) for f in check_report.figures}
    assert bounds["velocity_error"] == (None, 0.3) and bounds["yaw_rate_error"] == (None, 0.4)
    assert bounds["never_fell"] == (1.0, None)
    print(f"\nGo1 reward + check validated in {time.perf_counter() - started:.0f} s")


def test_go1_reward_depends_on_the_command_in_state_info(harness: Harness, tmp_path: Path) -> None:
    """Same physics, two commands in `info`: the compiled terms pay for the one the robot follows."""
    import jax.numpy as jnp
    import mujoco
    from mujoco import mjx

    from server.rewards.compile import compile_program
    from server.rewards.context import RewardContext
    from server.rewards.vocabulary import build_entries
    from server.scenes.loader import find_menagerie, load_env

    vocabulary = harness.run(harness.checker.vocabulary(GO1))
    env = load_env(GO1, purpose="check", menagerie_dir=find_menagerie(tmp_path)).env
    compiled = compile_program(draft_builtin(JOYSTICK_TASK, GO1, vocabulary), build_entries(GO1, env))

    model = env.mj_model
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, 0)
    data.qvel[0:3] = [0.5, 0.0, 0.0]  # base moving forward at 0.5 m/s, level (identity orientation)
    data.qvel[5] = 0.3  # turning left at 0.3 rad/s (free joint angular velocity, body frame)
    mujoco.mj_forward(model, data)
    mjx_data = mjx.put_data(model, data)
    zeros = jnp.zeros(env.action_size, jnp.float32)

    def terms(command: list[float]) -> dict[str, float]:
        ctx = RewardContext(mjx_data, zeros, zeros, {"command": jnp.array(command, jnp.float32)})
        return {name: float(value) for name, value in compiled.terms(ctx).items()}

    followed = terms([0.5, 0.0, 0.3])
    opposite = terms([-0.5, 0.0, -0.3])
    assert followed["track_velocity"] == pytest.approx(1.0, abs=1e-3)
    assert followed["track_yaw_rate"] == pytest.approx(1.0, abs=1e-3)
    assert opposite["track_velocity"] < 0.05 and opposite["track_yaw_rate"] < 0.8
    assert followed["upright"] == opposite["upright"]  # the rest of the reward does not read the command
