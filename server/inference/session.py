"""A trained policy playing against physics simulated elsewhere. Worker only (imports JAX).

`PlaybackModel` holds one policy and its training env (observation noise off, the policy's reward
program around it) and two jitted functions, compiled once per policy:

- `begin(params, rng, command)`: the env's own reset, the policy's first action, and the ctrl the env
  applies for it;
- `advance(params, state, action, before, after, command)`: the env's own `step` with Playground's
  physics function `mjx_env.step` swapped for one that returns the browser's result (see
  docs/INFERENCE_PROTOCOL.md), then the next action and its ctrl.

The params are an argument, not a constant of the compiled code, so `swap_params` can replace them with
a training job's newer ones (live preview, docs/PREVIEW.md) without compiling again.

The ctrl for an action comes from tracing the env's `step` with a physics function that records the
ctrl it is given, so the action scale and default-pose offsets are the env's own, for every env.
`PlaybackSession` is one browser tab's episode: its env state lives on the device between steps.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from mujoco import mjx
from mujoco_playground._src import mjx_env

from server.commands.schedule import command_at
from server.commands.types import CommandSchedule, CommandSpec, ScheduleReport
from server.commands.validate import check_schedule
from server.inference.env_config import COMMAND_KEY, env_command_spec, playback_overrides
from server.inference.protocol import (
    PROTOCOL_VERSION,
    Action,
    Episode,
    Hello,
    PhysicsState,
    from_bytes,
    to_bytes,
)
from server.policies.manifest import InvalidPolicy, PolicyManifest
from server.policies.networks import make_networks
from server.policies.params import load_policy
from server.rewards.compile import compile_program
from server.rewards.reward_env import TASK_METRIC, RewardEnv, term_metric
from server.rewards.vocabulary import build_entries
from server.scenes.loader import SceneLoadError, find_menagerie, load_env

Physics = Callable[..., Any]


class PlaybackError(ValueError):
    """A policy that cannot be played (the message is for the user)."""


class UnsupportedSceneError(PlaybackError):
    """The env's step does not advance physics through `mjx_env.step` exactly once."""


def load_settled(policy_dir: Path, attempts: int = 3, wait_s: float = 0.2) -> tuple[PolicyManifest, Any]:
    """`load_policy`, tried again a moment later when it fails: a training job rewrites its live/ folder
    (params, then manifest) while a preview reads it, and a read between the two sees a hash mismatch."""
    for attempt in range(attempts):
        try:
            return load_policy(policy_dir)
        except InvalidPolicy:
            if attempt == attempts - 1:
                raise
            time.sleep(wait_s)
    raise AssertionError("unreachable")


def check_params(params: Any, like: Any) -> None:
    """PlaybackError unless `params` (on the device, like `like`) can replace `like` in the compiled
    functions: the same tree, shapes and dtypes, every value finite."""
    new_tree: Any = jax.tree_util.tree_structure(params)  # a PyTreeDef (typed `PyTreeDef?` by jax)
    if new_tree != jax.tree_util.tree_structure(like):
        raise PlaybackError("its params are not the playing network's (another tree of arrays)")
    paths = jax.tree_util.tree_flatten_with_path(like)[0]
    for (path, old), new in zip(paths, jax.tree_util.tree_leaves(params), strict=True):
        new_type, old_type = jax.typeof(new), jax.typeof(old)  # shape and dtype, as jit sees them
        if (new_type.shape, new_type.dtype) != (old_type.shape, old_type.dtype):
            raise PlaybackError(
                f"its array {jax.tree_util.keystr(path)} is {new_type.str_short()}; the playing "
                f"network's is {old_type.str_short()}"
            )
    check_finite(params)


def check_finite(params: Any) -> None:
    """PlaybackError naming the first array of `params` that holds a NaN or infinite value."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        values = np.asarray(leaf)
        if np.issubdtype(values.dtype, np.inexact) and not np.all(np.isfinite(values)):
            raise PlaybackError(f"its array {jax.tree_util.keystr(path)} contains NaN or infinite values")


@contextlib.contextmanager
def physics(function: Physics) -> Iterator[list[int]]:
    """Swap Playground's physics function while tracing; yields a list counting its calls."""
    calls: list[int] = []

    def counted(model: Any, data: Any, ctrl: Any, n_substeps: int = 1) -> Any:
        calls.append(1)
        return function(model, data, ctrl, n_substeps)

    original = mjx_env.step
    mjx_env.step = counted
    try:
        yield calls
    finally:
        mjx_env.step = original


@dataclass(frozen=True)
class BrowserState:
    """A PhysicsState decoded to arrays (float32, as MJX on the CPU computes)."""

    qpos: jax.Array
    qvel: jax.Array
    act: jax.Array
    time: jax.Array
    qacc_warmstart: jax.Array


jax.tree_util.register_dataclass(
    BrowserState, data_fields=["qpos", "qvel", "act", "time", "qacc_warmstart"], meta_fields=[]
)


def replayed_physics(before: BrowserState, after: BrowserState) -> Physics:
    """What `mj_step` leaves in mjData: derived quantities from `before`, positions from `after`."""

    def step(model: Any, data: Any, ctrl: Any, n_substeps: int = 1) -> Any:
        del n_substeps  # the browser ran them all
        start = data.replace(
            qpos=before.qpos,
            qvel=before.qvel,
            act=before.act,
            time=before.time,
            ctrl=ctrl,
            qacc_warmstart=before.qacc_warmstart,
        )
        forward = mjx.forward(model, start)
        return forward.replace(qpos=after.qpos, qvel=after.qvel, act=after.act, time=after.time)

    return step


class PlaybackModel:
    def __init__(self, policy_dir: Path, scene_cache_dir: Path) -> None:
        try:
            self.manifest, params = load_settled(policy_dir)
        except InvalidPolicy as exc:
            raise PlaybackError(str(exc)) from exc
        from brax.training.agents.ppo import networks as ppo_networks

        scene_id = self.manifest.scene_id
        try:
            # Playback always steps "jax" physics on the CPU, whatever training used: loader.physics_impl.
            scene = load_env(
                scene_id,
                purpose="playback",
                menagerie_dir=find_menagerie(scene_cache_dir),
                config_overrides=playback_overrides,
            )
        except SceneLoadError as exc:
            raise PlaybackError(f"scene {scene_id!r} cannot be loaded: {exc}") from exc
        self.base = scene.env
        self.episode_length = scene.episode_length
        compiled = compile_program(self.manifest.program, build_entries(scene_id, self.base))
        self.env = RewardEnv(self.base, compiled)
        self.terms = list(compiled.names)
        self.weights = [float(compiled.weights[name]) for name in self.terms]
        self._make_policy = ppo_networks.make_inference_fn(make_networks(self.manifest))
        check_finite(params)  # NaN params would play NaN controls
        # On the device once: an argument of every call, not copied from the host each step.
        self.params: Any = jax.device_put(params)
        self.traces = 0  # how many times the jitted functions were traced (each trace compiles)

        model = self.base.mj_model
        self.nq, self.nv, self.na, self.nu = model.nq, model.nv, model.na, model.nu
        self.nmocap = model.nmocap
        self.timestep = float(model.opt.timestep)
        self.ctrl_dt = float(self.base.dt)
        self.substeps = max(1, round(self.ctrl_dt / self.timestep))

        self.command: CommandSpec | None = env_command_spec(self.base)

        self._begin = jax.jit(self._begin_impl)
        self._advance = jax.jit(self._advance_impl)

    # -- traced ----------------------------------------------------------------------------------

    def _with_command(self, state: Any, command: jax.Array | None) -> Any:
        if command is None or self.command is None:
            return state
        info = dict(state.info)
        own = info[COMMAND_KEY]
        held = command.reshape(own.shape).astype(own.dtype)
        # NaN: no command from the user, keep the env's own (one compiled function serves both cases).
        info[COMMAND_KEY] = jnp.where(jnp.isnan(held), own, held)
        return state.replace(info=info)

    def _require_one_physics_call(self, calls: list[int]) -> None:
        if len(calls) != 1:
            raise UnsupportedSceneError(
                f"scene {self.manifest.scene_id} advances physics {len(calls)} times per step; "
                "live playback needs exactly one"
            )

    def _ctrl_for(self, state: Any, action: jax.Array) -> jax.Array:
        recorded: list[jax.Array] = []

        def record(model: Any, data: Any, ctrl: Any, n_substeps: int = 1) -> Any:
            recorded.append(jnp.broadcast_to(ctrl, (self.nu,)))
            return data

        # Envs write into the info and metrics dicts they are given: hand this throwaway step copies.
        scratch = state.replace(info=dict(state.info), metrics=dict(state.metrics))
        with physics(record) as calls:
            self.base.step(scratch, action)
        self._require_one_physics_call(calls)
        return recorded[0]

    def _outputs(
        self, params: Any, state: Any, command: jax.Array | None
    ) -> tuple[Any, jax.Array, jax.Array]:
        state = self._with_command(state, command)
        key = jax.random.PRNGKey(0)  # unused by a deterministic policy, but part of brax's signature
        action = self._make_policy(params, deterministic=True)(state.obs, key)[0]
        return state, action, self._ctrl_for(state, action)

    def _begin_impl(
        self, params: Any, rng: jax.Array, command: jax.Array | None
    ) -> tuple[Any, jax.Array, jax.Array]:
        self.traces += 1
        return self._outputs(params, self.env.reset(rng), command)

    def _advance_impl(
        self,
        params: Any,
        state: Any,
        action: jax.Array,
        before: BrowserState,
        after: BrowserState,
        command: jax.Array | None,
    ) -> tuple[Any, jax.Array, jax.Array]:
        self.traces += 1
        with physics(replayed_physics(before, after)) as calls:
            stepped = self.env.step(self._with_command(state, command), action)
        self._require_one_physics_call(calls)
        return self._outputs(params, stepped, command)

    # -- host side -------------------------------------------------------------------------------

    def swap_params(self, params: Any) -> None:
        """Play `params` from the next call on (every session's next step): the compiled functions take
        them as an argument, so nothing recompiles. PlaybackError, with the old params kept, unless they
        have the playing network's tree, shapes and dtypes and are all finite."""
        candidate = jax.device_put(params)  # compared as the compiled functions would receive it
        check_params(candidate, self.params)
        self.params = candidate

    def begin(self, rng: jax.Array, command: jax.Array | None) -> tuple[Any, jax.Array, jax.Array]:
        return self._begin(self.params, rng, command)  # type: ignore[no-any-return]

    def advance(
        self,
        state: Any,
        action: jax.Array,
        before: BrowserState,
        after: BrowserState,
        command: jax.Array | None,
    ) -> tuple[Any, jax.Array, jax.Array]:
        return self._advance(self.params, state, action, before, after, command)  # type: ignore[no-any-return]

    def hello(self) -> Hello:
        return Hello(
            version=PROTOCOL_VERSION,
            policy_id=self.manifest.policy_id,
            scene_id=self.manifest.scene_id,
            ctrl_dt=self.ctrl_dt,
            timestep=self.timestep,
            substeps=self.substeps,
            nq=self.nq,
            nv=self.nv,
            na=self.na,
            nu=self.nu,
            nmocap=self.nmocap,
            send=["qpos", "qvel", "act", "time", "qacc_warmstart"],
            reward_terms=self.terms,
            weights=self.weights,
            episode_length=self.episode_length,
            command=self.command,
        )

    def browser_state(self, state: PhysicsState, name: str, *, warmstart: bool) -> BrowserState:
        """Decode and check a PhysicsState; ValueError names the first problem. Without `warmstart`
        the solver starts from zero accelerations (a state to start an episode from)."""
        if not np.isfinite(state.time):
            raise ValueError(f"{name}.time is NaN or infinite")
        if warmstart:
            start = from_bytes(state.qacc_warmstart, self.nv, f"{name}.qacc_warmstart")
        else:
            start = np.zeros(self.nv)
        return BrowserState(
            qpos=jnp.asarray(from_bytes(state.qpos, self.nq, f"{name}.qpos"), jnp.float32),
            qvel=jnp.asarray(from_bytes(state.qvel, self.nv, f"{name}.qvel"), jnp.float32),
            act=jnp.asarray(from_bytes(state.act, self.na, f"{name}.act"), jnp.float32),
            time=jnp.asarray(state.time, jnp.float32),
            qacc_warmstart=jnp.asarray(start, jnp.float32),
        )

    def warm_up(self) -> None:
        """Compile both functions before the first browser frame needs them."""
        session = PlaybackSession(self)
        session.reset(0)
        zeros = PhysicsState(
            qpos=to_bytes(np.asarray(self.base.mj_model.qpos0)),
            qvel=to_bytes(np.zeros(self.nv)),
            act=to_bytes(np.zeros(self.na)),
            time=0.0,
            qacc_warmstart=to_bytes(np.zeros(self.nv)),
        )
        session.step(0, zeros, zeros)


class PlaybackSession:
    """One browser tab's episode against a PlaybackModel."""

    def __init__(self, model: PlaybackModel) -> None:
        self.model = model
        self.state: Any = None
        self.action: jax.Array | None = None
        self.steps = 0
        self.episode_return = 0.0
        # None: the env draws and redraws commands as in training. Once the user sets one, it is held
        # (the env's redraws are overwritten each step). A reset's own observation still shows the
        # env's drawn command: the held one takes over from the first step.
        self.command: np.ndarray | None = None
        # A command schedule (the command tier) overrides `command`: each step's command is the one the
        # schedule asks for at that step's time since the episode began, so each reset replays it.
        self.schedule: CommandSchedule | None = None

    def _command_array(self, step: int = 0) -> jax.Array | None:
        """The command for the policy's decision at control step `step` of the episode."""
        spec = self.model.command
        if spec is None:
            return None
        if self.schedule is not None:
            return jnp.asarray(command_at(self.schedule, spec, step * self.model.ctrl_dt), jnp.float32)
        if self.command is None:  # the env's own command (see _with_command): the same traced shapes
            return jnp.full((len(spec.names),), jnp.nan, jnp.float32)
        return jnp.asarray(self.command)

    def _command_list(self, state: Any) -> list[float] | None:
        if self.model.command is None:
            return None
        return [float(v) for v in np.ravel(jax.device_get(state.info[COMMAND_KEY]))]

    def set_command(self, values: list[float]) -> None:
        spec = self.model.command
        if spec is None:
            raise ValueError("this policy takes no command")
        if len(values) != len(spec.names):
            raise ValueError(f"the command has {len(spec.names)} components ({', '.join(spec.names)})")
        if not all(np.isfinite(values)):
            raise ValueError("the command contains NaN or infinite values")
        self.command = np.clip(np.asarray(values, np.float32), spec.low, spec.high).astype(np.float32)
        self.schedule = None  # the user took the stick: a command set by hand replaces the schedule

    def set_schedule(self, schedule: CommandSchedule | None) -> ScheduleReport | None:
        """Play `schedule` from the next step (its time counts from the episode's start), or clear it
        (None: back to the last command set by hand, else the env's own). ValueError says why a schedule
        cannot play; the report says what will play, with any values clipped into range."""
        if schedule is None:
            self.schedule = None
            return None
        spec = self.model.command
        if spec is None:
            raise ValueError("this policy takes no command, so it cannot follow a command schedule")
        report = check_schedule(schedule, spec)
        if report.schedule is None:
            raise ValueError("; ".join(report.errors))
        self.schedule = report.schedule
        return report

    def reset(self, seed: int, resume_from: PhysicsState | None = None) -> Episode:
        m = self.model
        start = None if resume_from is None else m.browser_state(resume_from, "state", warmstart=False)
        state, action, ctrl = m.begin(jax.random.PRNGKey(seed), self._command_array(0))
        if start is not None:
            # A fresh episode memory around the browser's current pose: one step that ends where the
            # robot already is (so its observation is computed from that pose), with a zero action.
            zero = jnp.zeros_like(action)
            state, action, ctrl = m.advance(state, zero, start, start, self._command_array(0))
        self.state, self.action = state, action
        self.steps, self.episode_return = 0, 0.0
        data = state.data
        qpos, qvel, act, time, mocap_pos, mocap_quat, ctrl_host = jax.device_get(
            (data.qpos, data.qvel, data.act, data.time, data.mocap_pos, data.mocap_quat, ctrl)
        )
        return Episode(
            qpos=to_bytes(qpos),
            qvel=to_bytes(qvel),
            act=to_bytes(act),
            time=float(time),
            mocap_pos=to_bytes(mocap_pos),
            mocap_quat=to_bytes(mocap_quat),
            ctrl=to_bytes(ctrl_host),
            command=self._command_list(state),
        )

    def step(self, seq: int, before: PhysicsState, after: PhysicsState) -> Action:
        m = self.model
        if self.state is None or self.action is None:
            raise LookupError("no episode: send reset first")
        b = m.browser_state(before, "before", warmstart=True)
        a = m.browser_state(after, "after", warmstart=False)
        # The action this step yields drives interval `steps + 1`: it follows that moment's command, which
        # is also what the reply (Action.step = steps + 1) reports.
        command = self._command_array(self.steps + 1)
        state, action, ctrl = m.advance(self.state, self.action, b, a, command)
        metrics = state.metrics
        reward, terms, task, done, ctrl_host = jax.device_get(
            (
                state.reward,
                [metrics[term_metric(name)] for name in m.terms],
                metrics[TASK_METRIC],
                state.done,
                ctrl,
            )
        )
        if not np.all(np.isfinite(ctrl_host)):
            # Keep the last good state: the session can go on after a reset.
            raise ArithmeticError("the policy produced NaN controls for this state")
        self.state, self.action = state, action
        self.steps += 1
        self.episode_return += float(reward)
        return Action(
            seq=seq,
            ctrl=to_bytes(ctrl_host),
            reward=float(reward),
            terms=[float(t) for t in terms],
            task_reward=float(task),
            episode_return=self.episode_return,
            step=self.steps,
            done=bool(done > 0.5) or self.steps >= m.episode_length,
            command=self._command_list(state),
        )
