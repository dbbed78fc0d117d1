"""Behaviour suite (issue 15): does the policy the user gets do what the sentence asked?

Each task is trained through the CLI exactly as a user would (`robocoach train --scene S --task T --seed K
--data-dir <fresh folder>`, the app's defaults: preset auto, the built-in drafter unless an LLM key is
configured, its drafted success check, early stop, reflection rounds). The script then reads the policy
the CLI printed on stdout (the last round's kept policy, what the user gets) and judges it with a
DETECTOR written here, independently of the drafted check: from the raw physical state of the Playground
env (mjx.Data qpos/qvel/xpos/xmat/geom_xpos/site_xpos, found by the MuJoCo model's joint, body, geom and
site names; nothing from server/rewards' vocabulary, the reward program or the drafted check), over
deterministic rollouts of the kept policy from EPISODES initial states of a full episode each. The same
detector judges zero actions (the baseline, which must fail).

A task passes when every requirement of its detector holds in every episode.

    nice -n 10 .venv/bin/python scripts/bench_behaviour.py --out behaviour.json          # the whole suite
    .venv/bin/python scripts/bench_behaviour.py --list                                   # tasks, criteria
    .venv/bin/python scripts/bench_behaviour.py --only cartpole-upright --extra-args "--preset cpu_quick"
    .venv/bin/python scripts/bench_behaviour.py --only cartpole-upright --judge <policy folder>
    .venv/bin/python scripts/bench_behaviour.py --baselines                              # zero actions only

The whole suite takes hours on 2 cores: run it alone. Results are printed as a table and (with --out)
written as JSON, one record per (task, seed), rewritten after each task so a long run keeps what it did.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EPISODES = 5  # deterministic rollouts per policy, each of the scene's full episode length
ROLLOUT_SEED = 20_261_215  # initial states: not the training job's evaluation keys
WITHIN = 1.3  # "within the estimate": wall time <= estimate * WITHIN
UPRIGHT_18 = math.cos(math.radians(18.0))
TILT_30 = math.cos(math.radians(30.0))


# ---- what a rollout recorded, read by the model's names ---------------------------------------------
class Rollout:
    """Per-step physical state of EPISODES episodes: arrays shaped [episodes, steps, ...]."""

    def __init__(self, model: Any, dt: float, arrays: dict[str, np.ndarray]) -> None:
        self.model = model
        self.dt = dt  # control step (s)
        self.a = arrays
        self.steps = int(arrays["qpos"].shape[1])

    def _id(self, kind: Any, name: str) -> int:
        import mujoco

        index = mujoco.mj_name2id(self.model, kind, name)
        if index < 0:
            raise KeyError(f"the model has no {kind.name} named {name!r}")
        return int(index)

    def body_pos(self, name: str) -> np.ndarray:
        import mujoco

        return self.a["xpos"][:, :, self._id(mujoco.mjtObj.mjOBJ_BODY, name)]

    def body_up(self, name: str) -> np.ndarray:
        """World-z component of the body's own z axis: cos of its tilt from vertical (1 upright, -1 upside
        down)."""
        import mujoco

        return self.a["xmat"][:, :, self._id(mujoco.mjtObj.mjOBJ_BODY, name), 8]

    def joint_q(self, name: str) -> np.ndarray:
        import mujoco

        return self.a["qpos"][:, :, self.model.jnt_qposadr[self._id(mujoco.mjtObj.mjOBJ_JOINT, name)]]

    def joint_v(self, name: str) -> np.ndarray:
        import mujoco

        return self.a["qvel"][:, :, self.model.jnt_dofadr[self._id(mujoco.mjtObj.mjOBJ_JOINT, name)]]

    def geom_pos(self, name: str) -> np.ndarray:
        import mujoco

        return self.a["geom_xpos"][:, :, self._id(mujoco.mjtObj.mjOBJ_GEOM, name)]

    def geom_radius(self, name: str) -> float:
        import mujoco

        return float(self.model.geom_size[self._id(mujoco.mjtObj.mjOBJ_GEOM, name), 0])

    def site_pos(self, name: str) -> np.ndarray:
        import mujoco

        return self.a["site_xpos"][:, :, self._id(mujoco.mjtObj.mjOBJ_SITE, name)]

    def site_pos_at_rest(self, name: str) -> np.ndarray:
        """The site's position with every joint at qpos0 (the model's reference pose)."""
        import mujoco

        data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, data)
        return np.array(data.site_xpos[self._id(mujoco.mjtObj.mjOBJ_SITE, name)])

    def late(self, x: np.ndarray) -> np.ndarray:
        """The second half of each episode (time axis 1)."""
        return x[:, self.steps // 2 :]

    def speed_late(self, body: str) -> np.ndarray:
        """Mean velocity along +x over the second half (m/s), from the body's displacement."""
        x = self.late(self.body_pos(body)[..., 0])
        return np.asarray((x[:, -1] - x[:, 0]) / ((x.shape[1] - 1) * self.dt))


# ---- detectors --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Need:
    """One requirement: a per-episode figure and its bound."""

    name: str
    fn: Callable[[Rollout], np.ndarray]  # -> one value per episode
    at_least: float | None = None
    at_most: float | None = None
    unit: str = ""

    def holds(self, values: np.ndarray) -> np.ndarray:
        ok = np.asarray(np.isfinite(values))
        if self.at_least is not None:
            ok &= values >= self.at_least
        if self.at_most is not None:
            ok &= values <= self.at_most
        return ok


def share(mask: np.ndarray) -> np.ndarray:
    return np.asarray(np.asarray(mask, dtype=np.float64).mean(axis=1))


@dataclass(frozen=True)
class Task:
    name: str
    scene: str
    task: str  # the sentence, as a user types it
    criterion: str  # the detector's criterion in words
    needs: tuple[Need, ...]


def _cart_in(r: Rollout) -> np.ndarray:
    return np.asarray(np.abs(r.joint_q("slider")).max(axis=1))


def _pole_up_all(r: Rollout) -> np.ndarray:
    return share(r.body_up("pole_1") >= UPRIGHT_18)


def _pole_up_late(r: Rollout) -> np.ndarray:
    return share(r.late(r.body_up("pole_1")) >= UPRIGHT_18)


CART_LIMIT = 1.6  # m: the rail stop is at 1.8 m (cartpole.xml slider range)


def _cart_needs() -> tuple[Need, ...]:
    return (Need("cart_max", _cart_in, at_most=CART_LIMIT, unit="m"),)


def _tall(body: str, height: float) -> Callable[[Rollout], np.ndarray]:
    return lambda r: share(
        (r.late(r.body_pos(body)[..., 2]) >= height) & (r.late(r.body_up(body)) >= TILT_30)
    )


SUITE: tuple[Task, ...] = (
    Task(
        "cartpole-upright",
        "CartpoleBalance",
        "keep the pole upright",
        "pole within 18 deg of vertical in >= 90% of all steps; cart never beyond +-1.6 m (rail stop 1.8 m)",
        (Need("upright", _pole_up_all, at_least=0.9), *_cart_needs()),
    ),
    Task(
        "cartpole-left",
        "CartpoleBalance",
        "balance the pole with the cart at the left",
        "pole within 18 deg of vertical in >= 90% of all steps; cart never beyond +-1.6 m; mean cart "
        "position in the second half <= -0.5 m (left of centre, -x)",
        (
            Need("upright", _pole_up_all, at_least=0.9),
            *_cart_needs(),
            Need("cart_late", lambda r: r.late(r.joint_q("slider")).mean(axis=1), at_most=-0.5, unit="m"),
        ),
    ),
    Task(
        "cartpole-right",
        "CartpoleBalance",
        "balance the pole with the cart at the right",
        "pole within 18 deg of vertical in >= 90% of all steps; cart never beyond +-1.6 m; mean cart "
        "position in the second half >= 0.5 m (right of centre, +x)",
        (
            Need("upright", _pole_up_all, at_least=0.9),
            *_cart_needs(),
            Need("cart_late", lambda r: r.late(r.joint_q("slider")).mean(axis=1), at_least=0.5, unit="m"),
        ),
    ),
    Task(
        "cartpole-still",
        "CartpoleBalance",
        "hold the pole up and keep the cart still",
        "pole within 18 deg of vertical in >= 90% of all steps; cart never beyond +-1.6 m; mean cart "
        "speed in the second half <= 0.1 m/s",
        (
            Need("upright", _pole_up_all, at_least=0.9),
            *_cart_needs(),
            Need(
                "cart_speed",
                lambda r: np.abs(r.late(r.joint_v("slider"))).mean(axis=1),
                at_most=0.1,
                unit="m/s",
            ),
        ),
    ),
    Task(
        "cartpole-swingup",
        "CartpoleSwingup",
        "swing the pole up and hold it",
        "pole within 18 deg of vertical in >= 90% of the second half; cart never beyond +-1.6 m",
        (Need("upright_late", _pole_up_late, at_least=0.9), *_cart_needs()),
    ),
    Task(
        "cartpole-swingup-centre",
        "CartpoleSwingup",
        "swing up the pole and balance it with the cart in the middle",
        "pole within 18 deg of vertical in >= 90% of the second half; cart never beyond +-1.6 m; "
        "|mean cart position| in the second half <= 0.25 m",
        (
            Need("upright_late", _pole_up_late, at_least=0.9),
            *_cart_needs(),
            Need(
                "cart_off_centre",
                lambda r: np.abs(r.late(r.joint_q("slider")).mean(axis=1)),
                at_most=0.25,
                unit="m",
            ),
        ),
    ),
    Task(
        "pendulum-swingup",
        "PendulumSwingup",
        "swing the pendulum up and keep it upright",
        "pole within 18 deg of vertical in >= 90% of the second half",
        (Need("upright_late", lambda r: share(r.late(r.body_up("pole")) >= UPRIGHT_18), at_least=0.9),),
    ),
    Task(
        "pendulum-balance",
        "PendulumSwingup",
        "balance the pole at the top",
        "pole within 18 deg of vertical in >= 90% of the second half",
        (Need("upright_late", lambda r: share(r.late(r.body_up("pole")) >= UPRIGHT_18), at_least=0.9),),
    ),
    Task(
        "acrobot-swingup",
        "AcrobotSwingup",
        "swing the arm up so its tip reaches the target",
        "arm tip within 0.25 m below its straight-up height (4 m) in >= 50% of the second half",
        (
            Need(
                "tip_high",
                lambda r: share(r.late(r.site_pos("tip")[..., 2]) >= r.site_pos_at_rest("tip")[2] - 0.25),
                at_least=0.5,
            ),
        ),
    ),
    Task(
        "cheetah-run-fast",
        "CheetahRun",
        "run forward fast",
        "torso's mean velocity along +x over the second half >= 3 m/s",
        (Need("speed", lambda r: r.speed_late("torso"), at_least=3.0, unit="m/s"),),
    ),
    Task(
        "cheetah-backwards",
        "CheetahRun",
        "run backwards",
        "torso's mean velocity along x over the second half <= -2 m/s",
        (Need("speed", lambda r: r.speed_late("torso"), at_most=-2.0, unit="m/s"),),
    ),
    Task(
        "cheetah-no-flip",
        "CheetahRun",
        "move forward without flipping over",
        "torso's mean velocity along +x over the second half >= 1 m/s; torso never upside down (its z "
        "axis points up in every step)",
        (
            Need("speed", lambda r: r.speed_late("torso"), at_least=1.0, unit="m/s"),
            Need("never_flipped", lambda r: share(r.body_up("torso") > 0.0), at_least=1.0),
        ),
    ),
    Task(
        "hopper-stand",
        "HopperStand",
        "stand up",
        "torso >= 0.7 m high (1.0 m fully extended) and within 30 deg of vertical in >= 80% of the "
        "second half",
        (Need("standing", _tall("torso", 0.7), at_least=0.8),),
    ),
    Task(
        "hopper-hop",
        "HopperHop",
        "hop forward",
        "torso's mean velocity along +x over the second half >= 0.5 m/s; torso >= 0.6 m high and within "
        "30 deg of vertical in >= 80% of the second half",
        (
            Need("speed", lambda r: r.speed_late("torso"), at_least=0.5, unit="m/s"),
            Need("upright", _tall("torso", 0.6), at_least=0.8),
        ),
    ),
    Task(
        "walker-stand",
        "WalkerStand",
        "stand up tall",
        "torso >= 1.1 m high (1.3 m fully extended) and within 30 deg of vertical in >= 80% of the "
        "second half",
        (Need("standing", _tall("torso", 1.1), at_least=0.8),),
    ),
    Task(
        "walker-walk",
        "WalkerWalk",
        "walk forward without falling",
        "torso's mean velocity along +x over the second half >= 0.7 m/s; torso >= 0.9 m high and within "
        "30 deg of vertical in >= 90% of the second half",
        (
            Need("speed", lambda r: r.speed_late("torso"), at_least=0.7, unit="m/s"),
            Need("upright", _tall("torso", 0.9), at_least=0.9),
        ),
    ),
    Task(
        "walker-backwards",
        "WalkerWalk",
        "walk backwards",
        "torso's mean velocity along x over the second half <= -0.5 m/s; torso >= 0.9 m high and within "
        "30 deg of vertical in >= 80% of the second half",
        (
            Need("speed", lambda r: r.speed_late("torso"), at_most=-0.5, unit="m/s"),
            Need("upright", _tall("torso", 0.9), at_least=0.8),
        ),
    ),
    Task(
        "walker-run",
        "WalkerRun",
        "run forward",
        "torso's mean velocity along +x over the second half >= 1.5 m/s; torso >= 0.9 m high and within "
        "30 deg of vertical in >= 80% of the second half",
        (
            Need("speed", lambda r: r.speed_late("torso"), at_least=1.5, unit="m/s"),
            Need("upright", _tall("torso", 0.9), at_least=0.8),
        ),
    ),
    Task(
        "reacher-touch",
        "ReacherEasy",
        "touch the target",
        "fingertip geom overlapping the target geom in the plane (centre distance <= sum of their radii) "
        "in >= 50% of the second half",
        (
            Need(
                "touching",
                lambda r: share(
                    np.linalg.norm(r.late(r.geom_pos("finger") - r.geom_pos("target"))[..., :2], axis=-1)
                    <= r.geom_radius("finger") + r.geom_radius("target")
                ),
                at_least=0.5,
            ),
        ),
    ),
    Task(
        "reacher-hold",
        "ReacherEasy",
        "move the fingertip to the target and keep it there",
        "fingertip geom overlapping the target geom in the plane in >= 80% of the second half",
        (
            Need(
                "touching",
                lambda r: share(
                    np.linalg.norm(r.late(r.geom_pos("finger") - r.geom_pos("target"))[..., :2], axis=-1)
                    <= r.geom_radius("finger") + r.geom_radius("target")
                ),
                at_least=0.8,
            ),
        ),
    ),
    Task(
        "finger-spin",
        "FingerSpin",
        "spin the spinner",
        "the spinner's hinge turns >= 8 full turns, either direction, over the second half (10 s)",
        (
            Need(
                "turns",
                lambda r: (
                    np.abs(r.late(r.joint_q("hinge"))[:, -1] - r.late(r.joint_q("hinge"))[:, 0])
                    / (2 * math.pi)
                ),
                at_least=8.0,
            ),
        ),
    ),
)


# ---- rollouts of the raw Playground env -------------------------------------------------------------
class Judge:
    """Loads each scene once (as the check and playback do: MJX "jax" implementation) and rolls out
    a saved policy, or zero actions, recording raw mjx.Data fields."""

    def __init__(self, steps: int | None = None) -> None:
        self.steps = steps  # None: the scene's own episode length
        self.scenes: dict[str, tuple[Any, int, Callable[..., Any]]] = {}

    def _scene(self, scene_id: str) -> tuple[Any, int, Callable[..., Any]]:
        if scene_id not in self.scenes:
            import jax
            import jax.numpy as jnp

            from server.scenes.loader import load_env

            scene = load_env(scene_id, purpose="check", menagerie_dir=None)
            env, steps = scene.env, self.steps or scene.episode_length

            def episode(act: Callable[[Any, Any], Any], params: Any, scale: Any, key: Any) -> Any:
                state = env.reset(key)

                def step(carry: Any, _: Any) -> Any:
                    state, alive = carry
                    action = jnp.clip(act(params, state.obs), -1.0, 1.0) * scale
                    new = env.step(state, action)
                    # After the env ends an episode (a NaN, say) the state is held, as the check does.
                    new = jax.tree_util.tree_map(lambda a, b: jnp.where(alive > 0, a, b), new, state)
                    alive = alive * (1.0 - (jnp.asarray(new.done) > 0).astype(jnp.float32))
                    d = new.data
                    rec = {
                        "qpos": d.qpos,
                        "qvel": d.qvel,
                        "xpos": d.xpos,
                        "xmat": d.xmat.reshape(d.xmat.shape[0], 9),
                        "geom_xpos": d.geom_xpos,
                        "site_xpos": d.site_xpos,
                        "alive": alive,
                    }
                    return (new, alive), rec

                _, trajectory = jax.lax.scan(step, (state, jnp.float32(1.0)), None, length=steps)
                return trajectory

            def run(act: Callable[[Any, Any], Any], params: Any, scale: Any) -> Any:
                keys = jax.random.split(jax.random.PRNGKey(ROLLOUT_SEED), EPISODES)
                return jax.vmap(lambda k: episode(act, params, scale, k))(keys)

            self.scenes[scene_id] = (env, steps, jax.jit(run, static_argnums=0))
        return self.scenes[scene_id]

    def rollout(self, scene_id: str, policy_dir: Path | None) -> Rollout:
        import jax
        import jax.numpy as jnp

        env, _, run = self._scene(scene_id)
        if policy_dir is None:  # zero actions
            size = env.action_size
            arrays = run(_ZeroAct(size), None, jnp.float32(0.0))
        else:
            from brax.training.agents.ppo import networks as ppo_networks

            from server.policies.networks import make_networks
            from server.policies.params import load_policy

            manifest, params = load_policy(policy_dir)
            if manifest.scene_id != scene_id:
                raise ValueError(f"{policy_dir} was trained on {manifest.scene_id}, not {scene_id}")
            import msgspec

            key = msgspec.json.encode(
                [manifest.network, manifest.observation_size, manifest.action_size, manifest.training_config]
            ).decode()
            act = _PolicyAct(ppo_networks.make_inference_fn(make_networks(manifest)), key)
            return self.rollout_act(scene_id, act, params)
        arrays = jax.tree_util.tree_map(np.asarray, arrays)
        return Rollout(env.mj_model, float(env.dt), arrays)

    def rollout_act(self, scene_id: str, act: Callable[[Any, Any], Any], params: Any) -> Rollout:
        """Rollouts of any deterministic policy `act(params, obs)` (hashable: one compile per network),
        for policies saved by something other than the app (scripts/bench_sac.py)."""
        import jax
        import jax.numpy as jnp

        env, _, run = self._scene(scene_id)
        arrays = jax.tree_util.tree_map(np.asarray, run(act, params, jnp.float32(1.0)))
        return Rollout(env.mj_model, float(env.dt), arrays)


class _ZeroAct:
    """Hashable (a static jit argument): the same for every policy of a size."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, params: Any, obs: Any) -> Any:
        import jax.numpy as jnp

        return jnp.zeros(self.size, jnp.float32)

    def __hash__(self) -> int:
        return hash(("zero", self.size))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ZeroAct) and other.size == self.size


class _PolicyAct:
    """Brax's deterministic PPO policy with the params as an argument: equal (one compile) for every
    policy with the same network."""

    def __init__(self, make_policy: Callable[..., Any], key: str) -> None:
        self.make_policy = make_policy
        self.key = key

    def __hash__(self) -> int:
        return hash(("policy", self.key))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PolicyAct) and other.key == self.key

    def __call__(self, params: Any, obs: Any) -> Any:
        import jax

        action, _ = self.make_policy(params, deterministic=True)(obs, jax.random.PRNGKey(0))
        return action


@dataclass
class Verdict:
    passed: bool
    episodes_passed: int
    figures: dict[str, dict[str, float]]  # name -> mean, worst, per-episode values
    summary: str
    alive_share: float


def judge(task: Task, rollout: Rollout) -> Verdict:
    per_episode = np.ones(rollout.a["qpos"].shape[0], dtype=bool)
    figures: dict[str, dict[str, float]] = {}
    parts = []
    for need in task.needs:
        values = np.asarray(need.fn(rollout), dtype=np.float64)
        ok = need.holds(values)
        per_episode &= ok
        worst = float(values.min() if need.at_least is not None else values.max())
        figures[need.name] = {"mean": float(values.mean()), "worst": worst} | {
            f"ep{i}": float(v) for i, v in enumerate(values)
        }
        bound = f">= {need.at_least:g}" if need.at_least is not None else f"<= {need.at_most:g}"
        unit = f" {need.unit}" if need.unit else ""
        parts.append(
            f"{need.name} {values.mean():.3g}{unit} (worst {worst:.3g}; {bound}) {int(ok.sum())}/{ok.size}"
        )
    passed = bool(per_episode.all())
    return Verdict(
        passed=passed,
        episodes_passed=int(per_episode.sum()),
        figures=figures,
        summary="; ".join(parts),
        alive_share=float(rollout.a["alive"].mean()),
    )


# ---- training through the CLI -----------------------------------------------------------------------
ESTIMATE = re.compile(r"Estimate: about ([\d.]+) (seconds?|minutes?|hours?)")
ROUND = re.compile(r"training round (\d+) of (\d+) as job")


LATER_ROUNDS = re.compile(r"\((?:about )?([\d.]+) (seconds?|minutes?|hours?) each\)")


def _seconds(number: str, unit: str) -> float:
    """A duration the CLI wrote (`presets.duration_text`: "about N seconds|minutes|hours")."""
    return float(number) * {"s": 1.0, "m": 60.0, "h": 3600.0}[unit[0]]


def later_round_seconds(line: str) -> float | None:
    """A fine-tune's estimate also says what each later round (from scratch) takes; None: the same."""
    m = LATER_ROUNDS.search(line)
    return None if m is None else _seconds(m.group(1), m.group(2))


def estimate_seconds(line: str) -> float | None:
    m = ESTIMATE.search(line)
    return None if m is None else _seconds(m.group(1), m.group(2))


@dataclass
class CliRun:
    command: list[str]
    exit_code: int
    wall_s: float
    estimate_line: str | None
    estimate_s: float | None
    rounds: int  # jobs trained: 1 + reflection rounds
    # seconds from the start to each round's first line ("training job ..." / "training round N of M"):
    # the first one is what the CLI spent before training (scene export, workers, drafting, validation)
    round_started_s: list[float]
    drafted_by: str | None
    check_line: str | None  # the CLI's last "check ..." verdict line
    policy_dir: str | None
    timed_out: bool
    stderr_tail: list[str] = field(default_factory=list)


def robocoach_command() -> list[str]:
    script = Path(sys.executable).parent / "robocoach"
    return [str(script)] if script.exists() else [sys.executable, "-m", "desktop"]


def run_cli(
    task: Task, seed: int, data_dir: Path, extra: list[str], env: dict[str, str], limit_s: float
) -> CliRun:
    command = [
        *robocoach_command(),
        "train",
        "--scene",
        task.scene,
        "--task",
        task.task,
        "--seed",
        str(seed),
        "--data-dir",
        str(data_dir),
        *extra,
    ]
    print(f"  $ {shlex.join(command)}", flush=True)
    start = time.monotonic()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    lines: list[tuple[float, str]] = []
    out: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for text in proc.stderr:
            stamp = time.monotonic() - start
            lines.append((stamp, text.rstrip("\n")))
            print(f"    [{stamp:7.1f}s] {text.rstrip()}", flush=True)

    def read_stdout() -> None:
        assert proc.stdout is not None
        out.extend(text.strip() for text in proc.stdout)

    readers = [
        threading.Thread(target=read_stderr, daemon=True),
        threading.Thread(target=read_stdout, daemon=True),
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.terminate()  # SIGTERM: the CLI cancels the job
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    wall = time.monotonic() - start
    for reader in readers:
        reader.join(timeout=10)
    texts = [text for _, text in lines]
    estimate_line = next((t for t in texts if "Estimate:" in t), None)
    reflections = [m for t in texts if (m := ROUND.search(t))]
    drafted = next((t for t in texts if t.startswith("drafted by ")), None)
    checks = [t for t in texts if t.startswith("check ")]
    folders = [line for line in out if line and Path(line).is_dir()]
    return CliRun(
        command=command,
        exit_code=proc.returncode,
        wall_s=wall,
        estimate_line=estimate_line,
        estimate_s=None if estimate_line is None else estimate_seconds(estimate_line),
        rounds=1 + len(reflections),
        round_started_s=[
            round(stamp, 1) for stamp, t in lines if t.startswith("training job ") or ROUND.search(t)
        ],
        drafted_by=None if drafted is None else drafted.removeprefix("drafted by "),
        check_line=checks[-1] if checks else None,
        policy_dir=folders[-1] if folders else None,
        timed_out=timed_out,
        stderr_tail=texts[-15:],
    )


def lineage_rounds(data_dir: Path, job_id: str | None) -> int | None:
    """Jobs in the kept policy's lineage (the first job counts 1), from each job's job.json."""
    count = 0
    while job_id:
        path = data_dir / "jobs" / job_id / "job.json"
        try:
            spec = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        spec = spec.get("spec", spec)
        count += 1
        job_id = spec.get("parent_job_id")
    return count or None


# ---- the suite --------------------------------------------------------------------------------------
@dataclass
class Result:
    task: str
    scene: str
    sentence: str
    seed: int
    criterion: str
    detector_passed: bool | None
    detector: str
    detector_figures: dict[str, dict[str, float]]
    baseline_passed: bool | None
    baseline: str
    check_passed: bool | None  # the drafted check's verdict of the kept policy (its manifest)
    check_summary: str | None
    exit_code: int | None
    wall_s: float | None
    estimate_s: float | None
    estimate_line: str | None
    within_estimate: bool | None  # wall <= estimate * WITHIN
    within_estimate_per_round: bool | None  # wall <= (estimate of the rounds used) * WITHIN
    rounds: int | None
    lineage_rounds: int | None
    time_to_pass_s: float | None  # wall time when the kept policy passes the detector, else None
    prep_s: float | None  # wall time before the first job started (export, workers, drafting, validation)
    round_started_s: list[float]  # wall time at which each round started
    drafted_by: str | None
    policy_dir: str | None
    load_before: list[float]
    timed_out: bool = False
    error: str | None = None
    # From the estimate shown to the end (wall - prep) <= estimate * WITHIN: the time the estimate speaks
    # for (the app shows it once the draft is made; the CLI prints it as the first job starts).
    within_estimate_once_shown: bool | None = None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def busy_processes(limit: int = 6) -> list[str]:
    """The processes using the most CPU now (what else was running)."""
    try:
        text = subprocess.run(
            ["ps", "-eo", "pcpu,etimes,comm", "--sort=-pcpu"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in text.splitlines()[1 : limit + 1]]


def read_outcome(policy_dir: Path) -> tuple[bool | None, str | None, str | None]:
    """(the drafted check's verdict, its summary, the job id) from the policy's manifest.json."""
    manifest = json.loads((policy_dir / "manifest.json").read_text())
    outcome = manifest.get("outcome") or {}
    check = outcome.get("check")
    if check is None:
        return None, None, manifest.get("job_id")
    passed = bool(check.get("passed")) and check.get("error") is None
    return passed, check.get("summary"), manifest.get("job_id")


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f}m"


def yes(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "no")


def print_table(results: list[Result]) -> None:
    header = (
        "task",
        "scene",
        "seed",
        "detector",
        "figure",
        "baseline",
        "check",
        "exit",
        "wall",
        "estimate",
        "within",
        "once shown",
        "rounds",
        "prep",
    )
    rows = []
    for r in results:
        first = next(iter(r.detector_figures.items()), None)
        figure = "-" if first is None else f"{first[0]} {first[1]['mean']:.3g}"
        base = r.baseline.split(";")[0].rsplit(" (", 1)[0] if r.baseline else "-"
        rows.append(
            (
                r.task,
                r.scene,
                str(r.seed),
                "error" if r.error else {None: "-", True: "PASS", False: "fail"}[r.detector_passed],
                figure,
                base,
                yes(r.check_passed),
                "-" if r.exit_code is None else str(r.exit_code),
                fmt_s(r.wall_s),
                fmt_s(r.estimate_s),
                yes(r.within_estimate),
                yes(r.within_estimate_once_shown),
                "-" if r.rounds is None else str(r.rounds),
                fmt_s(r.prep_s),
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    judged = [r for r in results if r.detector_passed is not None]
    if judged:
        passed = sum(r.detector_passed is True for r in judged)
        in_time = sum(r.detector_passed is True and r.within_estimate is True for r in judged)
        shown = sum(r.detector_passed is True and r.within_estimate_once_shown is True for r in judged)
        print(
            f"\npass rate (detector): {passed}/{len(judged)} = {passed / len(judged):.0%}; "
            f"passed within {WITHIN:g}x the estimate: {in_time}/{len(judged)} = {in_time / len(judged):.0%} "
            f"(counted from the start; from the estimate shown: {shown}/{len(judged)})"
        )
    for r in results:
        print(f"\n{r.task} (seed {r.seed}): {r.sentence!r} on {r.scene}")
        print(f"  criterion: {r.criterion}")
        print(f"  kept policy: {r.detector or r.error or 'not judged'}")
        print(f"  zero actions: {r.baseline}")
        if r.check_summary is not None:
            print(f"  drafted check: {r.check_summary}")


def write_json(path: Path | None, meta: dict[str, Any], results: list[Result]) -> None:
    if path is None:
        return
    path.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2))


def select(names: list[str]) -> list[Task]:
    if not names:
        return list(SUITE)
    wanted = [n for part in names for n in part.split(",") if n]
    by_name = {t.name: t for t in SUITE}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown task(s) {unknown}; see --list")
    return [by_name[n] for n in wanted]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", action="append", default=[], help="task names (comma-separated or repeated)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--extra-args", default="", help="more `robocoach train` arguments, e.g. '--preset cpu_quick'"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="data folders go here (default: a new temporary folder)"
    )
    parser.add_argument(
        "--cold-cache",
        action="store_true",
        help="a fresh scene/XLA cache per task too (default: one cache for the run, as a user's persists)",
    )
    parser.add_argument("--task-timeout-min", type=float, default=120.0, help="cancel a CLI run after this")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--list", action="store_true", help="print the tasks and their criteria, then exit")
    parser.add_argument(
        "--judge", type=Path, help="judge this policy folder with --only's one task; no training"
    )
    parser.add_argument("--baselines", action="store_true", help="judge zero actions only; no training")
    parser.add_argument(
        "--steps",
        type=int,
        help="episode length of the detector's rollouts (default: the scene's; for comparing with a job's "
        "own evaluations, e.g. 100 for a cpu_quick job)",
    )
    args = parser.parse_args()
    tasks = select(args.only)

    if args.list:
        scenes = sorted({t.scene for t in tasks})
        print(f"{len(tasks)} tasks over {len(scenes)} scenes: {', '.join(scenes)}")
        for t in tasks:
            print(f"- {t.name} [{t.scene}] {t.task!r}: {t.criterion}")
        return 0
    if args.judge is not None and len(tasks) != 1:
        raise SystemExit("--judge needs exactly one task in --only")

    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_at_start": load_average(),
        "busy_processes_at_start": busy_processes(),
        "cpu_count": os.cpu_count(),
        "extra_args": args.extra_args,
        "episodes": EPISODES,
        "rollout_seed": ROLLOUT_SEED,
        "rollout_steps": args.steps or "the scene's episode length",
        "within_factor": WITHIN,
    }
    print(f"load average at start: {meta['load_average_at_start']} ({meta['cpu_count']} cores)")
    for line in meta["busy_processes_at_start"]:
        print(f"  busy: {line}")

    judge_ = Judge(args.steps)
    baselines: dict[str, Verdict] = {}

    def baseline(task: Task) -> Verdict:
        if task.name not in baselines:
            baselines[task.name] = judge(task, judge_.rollout(task.scene, None))
        return baselines[task.name]

    results: list[Result] = []
    if args.baselines or args.judge is not None:
        for task in tasks:
            base = baseline(task)
            verdict = judge(task, judge_.rollout(task.scene, args.judge)) if args.judge is not None else None
            results.append(
                Result(
                    task=task.name,
                    scene=task.scene,
                    sentence=task.task,
                    seed=-1,
                    criterion=task.criterion,
                    detector_passed=None if verdict is None else verdict.passed,
                    detector="" if verdict is None else verdict.summary,
                    detector_figures={} if verdict is None else verdict.figures,
                    baseline_passed=base.passed,
                    baseline=base.summary,
                    check_passed=None,
                    check_summary=None,
                    exit_code=None,
                    wall_s=None,
                    estimate_s=None,
                    estimate_line=None,
                    within_estimate=None,
                    within_estimate_per_round=None,
                    rounds=None,
                    lineage_rounds=None,
                    time_to_pass_s=None,
                    prep_s=None,
                    round_started_s=[],
                    drafted_by=None,
                    policy_dir=None if args.judge is None else str(args.judge),
                    load_before=load_average(),
                )
            )
            said = "PASS (the detector cannot tell!)" if base.passed else "fail"
            print(f"{task.name}: zero actions: {said}: {base.summary}")
        print_table(results)
        write_json(args.out, meta, results)
        return 0

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="robocoach-behaviour-"))
    work.mkdir(parents=True, exist_ok=True)
    meta["work_dir"] = str(work)
    print(f"work folder: {work}")
    extra = shlex.split(args.extra_args)
    for task in tasks:
        for seed in args.seeds:
            print(f"\n== {task.name} seed {seed}: {task.task!r} on {task.scene}", flush=True)
            data_dir = work / f"{task.name}-s{seed}"
            if data_dir.exists():
                raise SystemExit(f"{data_dir} exists: give a fresh --work-dir")
            env = dict(os.environ)
            env["ROBOCOACH_CACHE_DIR"] = str(data_dir / "cache" if args.cold_cache else work / "cache")
            load = load_average()
            cli = run_cli(task, seed, data_dir, extra, env, args.task_timeout_min * 60)
            result = Result(
                task=task.name,
                scene=task.scene,
                sentence=task.task,
                seed=seed,
                criterion=task.criterion,
                detector_passed=None,
                detector="",
                detector_figures={},
                baseline_passed=None,
                baseline="",
                check_passed=None,
                check_summary=None,
                exit_code=cli.exit_code,
                wall_s=round(cli.wall_s, 1),
                estimate_s=cli.estimate_s,
                estimate_line=cli.estimate_line,
                within_estimate=None if cli.estimate_s is None else cli.wall_s <= cli.estimate_s * WITHIN,
                within_estimate_once_shown=None
                if cli.estimate_s is None or not cli.round_started_s
                else cli.wall_s - cli.round_started_s[0] <= cli.estimate_s * WITHIN,
                within_estimate_per_round=None
                if cli.estimate_s is None or cli.estimate_line is None
                else cli.wall_s
                <= (
                    cli.estimate_s
                    + (cli.rounds - 1) * (later_round_seconds(cli.estimate_line) or cli.estimate_s)
                )
                * WITHIN,
                rounds=cli.rounds,
                lineage_rounds=None,
                time_to_pass_s=None,
                prep_s=cli.round_started_s[0] if cli.round_started_s else None,
                round_started_s=cli.round_started_s,
                drafted_by=cli.drafted_by,
                policy_dir=cli.policy_dir,
                load_before=load,
                timed_out=cli.timed_out,
            )
            try:
                base = baseline(task)
                result.baseline_passed, result.baseline = base.passed, base.summary
                if cli.policy_dir is None:
                    result.error = f"no policy folder on stdout (exit {cli.exit_code}): " + " | ".join(
                        cli.stderr_tail[-3:]
                    )
                    result.detector_passed = False
                else:
                    folder = Path(cli.policy_dir)
                    result.check_passed, result.check_summary, job_id = read_outcome(folder)
                    result.lineage_rounds = lineage_rounds(data_dir, job_id)
                    verdict = judge(task, judge_.rollout(task.scene, folder))
                    result.detector_passed, result.detector = verdict.passed, verdict.summary
                    result.detector_figures = verdict.figures
                    if verdict.passed:
                        result.time_to_pass_s = result.wall_s
            except Exception as exc:  # one task's failure must not end a long run
                result.error = f"{type(exc).__name__}: {exc}"
                result.detector_passed = False
            results.append(result)
            said = "PASS" if result.detector_passed else "fail"
            print(
                f"  -> detector {said}: {result.detector or result.error}\n"
                f"     zero actions: {result.baseline}\n     drafted check: {result.check_summary}; exit "
                f"{cli.exit_code}; wall {fmt_s(cli.wall_s)}; {cli.estimate_line}; rounds {cli.rounds}",
                flush=True,
            )
            meta["load_average_at_end"] = load_average()
            write_json(args.out, meta, results)
    print_table(results)
    print(f"\nload average at start {meta['load_average_at_start']}, at end {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
