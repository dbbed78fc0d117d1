"""Closed loop: a policy trained here plays through the real WebSocket of a real `robocoach serve`, with
physics stepped by the MuJoCo WebAssembly module in Node (the UI's own driver, ui/src/playback), and
earns what it earns in its training environment (MJX) over the same horizon, within 10%."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import pytest

from server.inference.env_config import playback_overrides
from server.policies.library import PolicyLibrary
from server.policies.manifest import PolicyManifest
from server.policies.params import make_inference_fn
from server.rewards.compile import compile_program
from server.rewards.reward_env import RewardEnv
from server.rewards.vocabulary import build_entries
from server.training.runner import load_scene, train
from server.training.types import JobSpec
from tests.e2e.conftest import RunningApp, start_app, stop_app

ROOT = Path(__file__).resolve().parents[2]
SCENE = "CartpoleBalance"
HORIZON = 300  # control steps: 3 s of Cartpole
SEED = 4
PROGRAM = (
    '"""Keep the pole up with the cart near the middle."""\n\n'
    "WEIGHTS = dict(upright=1.0, centred=0.5)\n\n\n"
    "def upright(s):\n    return (jnp.cos(s.pole_angle) + 1.0) / 2.0\n\n\n"
    "def centred(s):\n    return jnp.exp(-jnp.square(s.cart_position))\n"
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> tuple[Path, PolicyManifest]:
    """A short real training run (the quick preset: seconds of training after the compile)."""
    data_dir = tmp_path_factory.mktemp("closed-loop") / "data"
    work_dir = data_dir / "jobs" / "closed-loop"
    spec = JobSpec(scene_id=SCENE, program=PROGRAM, name="closed loop", preset="cpu_quick")
    train(spec, scene_cache_dir=scene_cache, work_dir=work_dir, report=lambda _progress: None)
    manifest = PolicyLibrary(data_dir).add(work_dir / "policy")
    return data_dir, manifest


@pytest.fixture(scope="module")
def server(trained: tuple[Path, PolicyManifest], scene_cache: Path) -> Iterator[RunningApp]:
    app = start_app(trained[0], scene_cache)
    yield app
    assert stop_app(app) == 0, "".join(app.output)


def training_env_return(manifest: PolicyManifest, policy_dir: Path, scene_cache: Path) -> float:
    """The policy's return over HORIZON steps of its training env (MJX physics), from reset(SEED)."""
    scene = load_scene(SCENE, scene_cache, extra_overrides=playback_overrides)
    env = RewardEnv(scene.env, compile_program(manifest.program, build_entries(SCENE, scene.env)))
    policy = make_inference_fn(policy_dir)
    step = jax.jit(env.step)
    state = jax.jit(env.reset)(jax.random.PRNGKey(SEED))
    total = 0.0
    for _ in range(HORIZON):
        state = step(state, policy(state.obs))
        total += float(state.reward)
    return total


def node_episode(
    server: RunningApp, manifest: PolicyManifest, scene_cache: Path, out: Path
) -> dict[str, Any]:
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("Node is not installed (make test installs it)")
    mjb = next(scene_cache.glob(f"scenes/*/{SCENE}.mjb.gz"))
    ws = server.base.replace("http://", "ws://")
    env = {
        **os.environ,
        "ROBOCOACH_PLAYBACK_URL": f"{ws}/api/models/{manifest.policy_id}/inference?token={server.token}",
        "ROBOCOACH_PLAYBACK_MJB": str(mjb),
        "ROBOCOACH_PLAYBACK_STEPS": str(HORIZON),
        "ROBOCOACH_PLAYBACK_SEED": str(SEED),
        "ROBOCOACH_PLAYBACK_OUT": str(out),
        "NODE_OPTIONS": "--experimental-websocket",
    }
    result = subprocess.run(
        [npx, "vitest", "run", "src/playback/closedLoop.live.test.ts"],
        cwd=ROOT / "ui",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_browser_physics_episode_earns_the_training_env_return(
    trained: tuple[Path, PolicyManifest], server: RunningApp, scene_cache: Path, tmp_path: Path
) -> None:
    data_dir, manifest = trained
    expected = training_env_return(manifest, data_dir / "policies" / manifest.policy_id, scene_cache)
    played = node_episode(server, manifest, scene_cache, tmp_path / "episode.json")
    print(
        f"\nclosed loop: training env {expected:.2f}, browser physics {played['episode_return']:.2f}, "
        f"latency p50 {played['latency_ms_p50']:.2f} ms, p99 {played['latency_ms_p99']:.2f} ms"
    )
    assert played["steps"] == HORIZON
    assert played["episode_return"] == pytest.approx(expected, rel=0.10)
