"""A clip of a saved policy: a few seconds of its deterministic rollout, as a small animated WebP beside its
params (`CLIP_FILE`), so the library can show what each policy does without playing it.

The rollout is one jitted `lax.scan` of the scene's own env (the env training used), the policy
deterministic, from a fixed seed's initial state, until the clip's length or the scene ends the episode.
A training job does not compile one: its evaluation rollouts (server/training/evaluation.py) play the same
start with the same physics and keep the states. The states are drawn with MuJoCo's own renderer
(mjv_updateScene + mjr_render, what `mujoco.Renderer` does) on the env's `mj_model`, in an EGL context
chosen here rather than through MUJOCO_GL, so it works whichever module imported mujoco first; on a
computer without a GPU, EGL is Mesa's llvmpipe (Debian's libegl1, libegl-mesa0, libgl1-mesa-dri), which
needs no display and no /dev/dri. The camera frames the robot as the page's viewer does (its centre of
mass from the front, 25 degrees above), following the root body in locomotion scenes. Pillow encodes the
frames. docs/CLIPS.md has the numbers.

    python -m server.policies.clip POLICY_DIR [--cache-dir DIR]    # (re)render a saved policy's clip

Imports JAX and MuJoCo: worker processes and tools only.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.files import write_atomic
from server.policies.manifest import CLIP_FILE, PolicyManifest

log = logging.getLogger(__name__)

CLIP_SECONDS = 4.0  # of simulated time, at most (less when the scene ends the episode first)
CLIP_FPS = 25
CLIP_WIDTH, CLIP_HEIGHT = 240, 180
CLIP_SEED = 0  # the initial state's key: the same clip every time
WEBP_QUALITY = 70


@dataclass(frozen=True)
class Clip:
    data: bytes  # the animated WebP
    frames: int
    rollout_s: float  # compiling and running the rollout
    render_s: float  # drawing and encoding the frames


def rollout(
    env: Any, manifest: PolicyManifest, params: Any, steps: int, seed: int = CLIP_SEED
) -> dict[str, Any]:
    """`steps` control steps of the deterministic policy from `seed`'s first initial state (the one a
    training job's evaluation rollouts start their first episode from), one jitted scan:
    {"qpos", "qvel", "mocap_pos", "mocap_quat": [steps + 1, ...] (the initial state first), "done": [steps]}
    as numpy arrays."""
    import jax
    from brax.training.agents.ppo import networks as ppo_networks

    from server.checks.evaluate import make_scored_rollouts, policy_action
    from server.policies.networks import make_networks

    act = policy_action(ppo_networks.make_inference_fn(make_networks(manifest)))
    run = make_scored_rollouts(env, {}, frozenset(), steps, 1, act)
    trajectories, _, states = run(params, jax.random.PRNGKey(seed))
    return episode_states(trajectories, states, steps)


def episode_states(trajectories: dict[str, Any], states: dict[str, Any], steps: int) -> dict[str, Any]:
    """The first episode of `make_scored_rollouts`' output, cut to `steps` steps, in `rollout`'s form."""
    import numpy as np

    from server.rewards.static_check import ALIVE

    out = {k: np.asarray(v[0, : steps + 1]) for k, v in states.items()}
    out["done"] = np.asarray(trajectories[ALIVE][0, :steps]) == 0  # alive after step i: 0 once it ended
    return out


def frame_stride(ctrl_dt: float) -> int:
    """Control steps per frame: about CLIP_FPS frames per simulated second (every step when slower)."""
    return max(1, round(1.0 / (CLIP_FPS * ctrl_dt)))


def frame_indices(stride: int, steps: int, done: Any) -> list[int]:
    """The states drawn: every `stride`-th, up to the step where the episode ended (included)."""
    import numpy as np

    ended = np.flatnonzero(np.asarray(done))
    last = int(ended[0]) + 1 if ended.size else steps  # state i + 1 is the one after step i
    return list(range(0, last + 1, stride))


def render_frames(mj_model: Any, states: dict[str, Any], indices: list[int], *, follow: bool) -> list[Any]:
    """RGB frames (uint8, CLIP_HEIGHT x CLIP_WIDTH x 3) of the given states, drawn by MuJoCo in EGL."""
    import mujoco
    import numpy as np
    from mujoco.egl import GLContext

    data = mujoco.MjData(mj_model)

    def load(i: int) -> None:
        data.qpos[:] = states["qpos"][i]
        data.qvel[:] = states["qvel"][i]
        if mj_model.nmocap:
            data.mocap_pos[:] = states["mocap_pos"][i]
            data.mocap_quat[:] = states["mocap_quat"][i]
        mujoco.mj_forward(mj_model, data)

    load(indices[0])
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    root, centre, camera.distance = _framing(mj_model, data)
    camera.azimuth, camera.elevation = 90.0, -25.0  # from the front (-y), above, as the page's viewer
    start = np.array(data.xpos[root], dtype=np.float64)

    context = GLContext(CLIP_WIDTH, CLIP_HEIGHT)
    frames = []
    try:
        context.make_current()
        scene = mujoco.MjvScene(mj_model, maxgeom=10_000)
        option = mujoco.MjvOption()
        rect = mujoco.MjrRect(0, 0, CLIP_WIDTH, CLIP_HEIGHT)
        mjr = mujoco.MjrContext(mj_model, mujoco.mjtFontScale.mjFONTSCALE_150.value)
        try:
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, mjr)
            pixels = np.empty((CLIP_HEIGHT, CLIP_WIDTH, 3), np.uint8)
            for i in indices:
                load(i)
                camera.lookat[:] = centre + (data.xpos[root] - start if follow else 0.0)
                mujoco.mjv_updateScene(
                    mj_model, data, option, None, camera, mujoco.mjtCatBit.mjCAT_ALL.value, scene
                )
                mujoco.mjr_render(rect, scene, mjr)
                mujoco.mjr_readPixels(pixels, None, rect, mjr)
                frames.append(np.flipud(pixels).copy())  # OpenGL's rows run bottom-up
        finally:
            mjr.free()
    finally:
        context.free()
    return frames


def _framing(mj_model: Any, data: Any) -> tuple[int, Any, float]:
    """(root body, point to look at, camera distance): the robot (the first body under the world and all
    that hangs from it) in the middle of the frame, with room around it to move."""
    import numpy as np

    if mj_model.nbody < 2:
        return 0, np.array(mj_model.stat.center, np.float64), 3.0
    root = 1
    mine = mj_model.body_rootid[mj_model.geom_bodyid] == mj_model.body_rootid[root]
    if not mine.any():
        return root, np.array(data.xpos[root], np.float64), 3.0
    xpos, rbound = data.geom_xpos[mine], mj_model.geom_rbound[mine][:, None]
    centre = ((xpos - rbound).min(axis=0) + (xpos + rbound).max(axis=0)) / 2
    radius = float((np.linalg.norm(xpos - centre, axis=1) + rbound[:, 0]).max())
    # A sphere of `radius` fills the 45 degree field of view at 2.6 radii; 3.5 leaves room to move.
    return root, centre, min(max(1.5, 3.5 * radius), 10.0)


def encode_webp(frames: list[Any], frame_ms: int) -> bytes:
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        duration=frame_ms,
        loop=0,
        quality=WEBP_QUALITY,
        method=4,
    )
    return buffer.getvalue()


def clip_steps(ctrl_dt: float, seconds: float = CLIP_SECONDS) -> int:
    return max(1, math.ceil(seconds / ctrl_dt - 1e-9))


def render_clip(
    env: Any,
    manifest: PolicyManifest,
    params: Any,
    *,
    follow: bool,
    make_states: Callable[[Any], dict[str, Any]] | None = None,
) -> Clip:
    """The clip of `params` (a policy of `manifest`) in `env` (the scene's unbatched env). `make_states`:
    makes the rollout from the params in `rollout`'s form, CLIP_SECONDS long (a training job's evaluation
    rollouts do, without compiling another); by default `rollout`."""
    ctrl_dt = float(env.dt)
    started = time.monotonic()
    asked = clip_steps(ctrl_dt)
    states = make_states(params) if make_states is not None else rollout(env, manifest, params, asked)
    steps = len(states["done"])  # fewer than asked where the scene's episode is shorter
    rolled = time.monotonic()
    stride = frame_stride(ctrl_dt)
    frames = render_frames(env.mj_model, states, frame_indices(stride, steps, states["done"]), follow=follow)
    data = encode_webp(frames, frame_ms=round(1000 * stride * ctrl_dt))  # plays in real time
    return Clip(data=data, frames=len(frames), rollout_s=rolled - started, render_s=time.monotonic() - rolled)


def save_clip(
    policy_dir: Path, scene: Any, make_states: Callable[[Any], dict[str, Any]] | None = None
) -> Clip | None:
    """Renders the clip of the saved policy in `policy_dir` into its CLIP_FILE (`make_states`: see
    `render_clip`). A clip is a nicety: any failure (no EGL, a rollout that cannot run) is logged and
    leaves no clip, never an exception."""
    try:
        from server.policies.params import load_policy

        manifest, params = load_policy(policy_dir)
        clip = render_clip(
            scene.env,
            manifest,
            params,
            follow=scene.family == "locomotion",
            make_states=make_states,
        )
        write_atomic(policy_dir / CLIP_FILE, clip.data)
    except Exception as exc:
        log.warning("no clip for the policy in %s: %s: %s", policy_dir, type(exc).__name__, exc)
        (policy_dir / CLIP_FILE).unlink(missing_ok=True)  # an older policy's clip must not stay
        return None
    log.info(
        "clip: %d frames, %d bytes; rollout %.1f s, render %.1f s",
        clip.frames,
        len(clip.data),
        clip.rollout_s,
        clip.render_s,
    )
    return clip


def clip_folder(policy_dir: Path, cache_dir: Path) -> Clip | None:
    """`save_clip` for a policy folder on its own (a shipped base, a policy from before clips): loads its
    scene on the CPU as training does. None, after logging why, when there is no clip."""
    import os

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from server.policies.manifest import read_manifest
    from server.scenes.loader import find_menagerie, load_env

    try:
        manifest = read_manifest(policy_dir)
        scene = load_env(
            manifest.scene_id, purpose="train", device="cpu", menagerie_dir=find_menagerie(cache_dir)
        )
    except Exception as exc:  # an unknown or broken scene, a damaged manifest
        log.warning("no clip for the policy in %s: %s: %s", policy_dir, type(exc).__name__, exc)
        return None
    return save_clip(policy_dir, scene)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the clip of a saved policy folder (CPU).")
    parser.add_argument("policy_dir", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=None, help="the scene cache (default: the app's)")
    args = parser.parse_args(argv)
    from server.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    clip = clip_folder(args.policy_dir, args.cache_dir or load_settings().cache_dir)
    if clip is None:
        return 1
    print(
        f"{args.policy_dir / CLIP_FILE}: {clip.frames} frames, {len(clip.data)} bytes; "
        f"rollout {clip.rollout_s:.1f} s, render + encode {clip.render_s:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
