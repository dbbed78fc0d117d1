"""Running a success check on rollouts of a scene. Worker processes only (imports JAX).

`compile_check` turns a validated check into figure functions of one episode's trajectory (interpreting
the checked tree, as rewards are). `make_rollouts` builds one jitted function that plays `episodes`
episodes of `steps` control steps from different initial states with any action function and records
the vocabulary entries the check reads, plus `alive` (docs/CHECKS.md); `make_scored_rollouts` also sums
each episode's rewards (a training job's evaluations, server/training/evaluation.py). Its parameters are
an argument, so a training job compiles it once and calls it at every evaluation with new params.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from server.checks.types import CheckResult
from server.checks.verdict import judge
from server.rewards import program as ir
from server.rewards.compile import ProgramRejectedError, as_term_value
from server.rewards.context import Entry, RewardContext
from server.rewards.interpret import run_term
from server.rewards.static_check import ALIVE, check_check

# (params, observation, key) -> action; deterministic policies ignore the key.
Act = Callable[[Any, Any, jax.Array], jax.Array]


class Trajectory:
    """`s` inside a figure: each entry over the episode's steps (leading time axis)."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def read(self, name: str) -> Any:
        if name not in self._values:
            raise KeyError(f"s.{name} was not recorded for this check")
        return self._values[name]


@dataclass(frozen=True)
class CompiledCheck:
    names: list[str]  # figures, in program order
    at_least: dict[str, float]
    at_most: dict[str, float]
    lines: dict[str, int]
    reads: frozenset[str]  # the entries the figures read (`alive` included when read)
    functions: dict[str, Callable[[Any], Any]]

    def figures(self, trajectory: Mapping[str, Any]) -> dict[str, Any]:
        """Each figure's value for one episode's trajectory."""
        view = Trajectory(trajectory)
        return {name: as_term_value(self.functions[name](view)) for name in self.names}

    def judge(self, values: Mapping[str, Any]) -> CheckResult:
        """The verdict of per-episode figure values (`values[name]` has one entry per episode)."""
        rows = {name: [float(v) for v in jnp.ravel(jnp.asarray(values[name]))] for name in self.names}
        return judge(rows, self.at_least, self.at_most)


def compile_check(source: str, entries: Mapping[str, Entry], steps: int | None = None) -> CompiledCheck:
    """Statically check `source` (ProgramRejectedError if invalid) and make its figures runnable."""
    report, program = check_check(source, set(entries), None, steps)
    if program is None:
        raise ProgramRejectedError(report)
    return from_checked(program)


def from_checked(program: ir.CheckProgram) -> CompiledCheck:
    reads: set[str] = set()
    for figure in program.figures:
        reads |= ir.entries_read(figure)
    return CompiledCheck(
        names=[f.name for f in program.figures],
        at_least=dict(program.at_least),
        at_most=dict(program.at_most),
        lines={f.name: f.line for f in program.figures},
        reads=frozenset(reads),
        functions={f.name: partial(run_term, f) for f in program.figures},
    )


def make_rollouts(
    env: Any, entries: Mapping[str, Entry], reads: frozenset[str], steps: int, episodes: int, act: Act
) -> Callable[[Any, jax.Array], dict[str, Any]]:
    """A jitted `(params, key) -> trajectories`, each entry shaped [episodes, steps, *entry shape].

    After the scene ends an episode (`done`), the state is held: entries keep their last values and
    `alive` is 0 from that step on. `env` is the unbatched scene env. Episode i starts from the key with
    i folded in, so the first n episodes are the same however many are played.
    """
    return jax.jit(_rollouts(env, entries, reads, steps, episodes, act, scored=False))


def make_scored_rollouts(
    env: Any, entries: Mapping[str, Entry], reads: frozenset[str], steps: int, episodes: int, act: Act
) -> Callable[[Any, jax.Array], tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """As `make_rollouts`, returning `(trajectories, totals, states)`: `totals["reward"]` and `totals[m]` for
    each of the env's `metrics` (a RewardEnv's terms), summed over each episode's steps up to and including
    the one that ended it, as brax's evaluator sums them, each shaped [episodes]; and `states`, each key of
    `physics_state` shaped [episodes, steps + 1, ...] (the initial state first), to draw an episode again."""
    return jax.jit(_rollouts(env, entries, reads, steps, episodes, act, scored=True))


def physics_state(data: Any) -> dict[str, Any]:
    """What a rollout keeps of a step to draw it again (server/policies/clip.py)."""
    return {"qpos": data.qpos, "qvel": data.qvel, "mocap_pos": data.mocap_pos, "mocap_quat": data.mocap_quat}


def _rollouts(
    env: Any,
    entries: Mapping[str, Entry],
    reads: frozenset[str],
    steps: int,
    episodes: int,
    act: Act,
    *,
    scored: bool,
) -> Callable[[Any, jax.Array], Any]:
    recorded = {name: entries[name] for name in sorted(reads) if name != ALIVE}

    def record(ctx: RewardContext) -> dict[str, Any]:
        return {name: jnp.asarray(entry.fn(ctx), jnp.float32) for name, entry in recorded.items()}

    def scores(state: Any) -> dict[str, Any]:
        if not scored:
            return {}
        values = {name: jnp.asarray(value, jnp.float32) for name, value in state.metrics.items()}
        return values | {"reward": jnp.asarray(state.reward, jnp.float32)}

    def physics(state: Any) -> dict[str, Any]:
        return physics_state(state.data) if scored else {}

    def hold(running: Any, new: Any, old: Any) -> Any:
        return jax.tree_util.tree_map(lambda a, b: jnp.where(running, a, b), new, old)

    def episode(params: Any, key: jax.Array) -> Any:
        reset_key, act_key = jax.random.split(key)
        state = env.reset(reset_key)
        zeros = jnp.zeros(env.action_size, jnp.float32)
        first = record(RewardContext(state.data, zeros, zeros, dict(state.info)))
        totals = jax.tree_util.tree_map(jnp.zeros_like, scores(state))

        def step(carry: Any, step_key: jax.Array) -> Any:
            state, alive, prev_action, last, totals = carry
            action = jnp.asarray(act(params, state.obs, step_key), jnp.float32)
            stepped = env.step(state, action)
            values = record(RewardContext(stepped.data, action, prev_action, dict(stepped.info)))
            running = alive > 0
            totals = jax.tree_util.tree_map(lambda t, v: t + alive * v, totals, scores(stepped))
            values = hold(running, values, last)
            stepped = hold(running, stepped, state)
            alive = alive * (1.0 - (jnp.asarray(stepped.done) > 0).astype(jnp.float32))
            return (stepped, alive, action, values, totals), (values | {ALIVE: alive}, physics(stepped))

        keys = jax.random.split(act_key, steps)
        carry: Any = (state, jnp.float32(1.0), zeros, first, totals)
        (*_, totals), (trajectory, states) = jax.lax.scan(step, carry, keys)
        if not scored:
            return trajectory
        initial = physics(state)
        states = {k: jnp.concatenate([initial[k][None], v]) for k, v in states.items()}
        return trajectory, totals, states

    def run(params: Any, key: jax.Array) -> Any:
        starts = jax.vmap(partial(jax.random.fold_in, key))(jnp.arange(episodes))
        return jax.vmap(episode, in_axes=(None, 0))(params, starts)

    return run


def figure_values(check: CompiledCheck) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A jitted `trajectories -> {figure: [episodes]}`."""
    return jax.jit(jax.vmap(check.figures))


def policy_action(make_policy: Callable[..., Any]) -> Act:
    """The deterministic action of a brax policy maker (`make_policy(params, deterministic=True)`)."""

    def act(params: Any, obs: Any, key: jax.Array) -> jax.Array:
        action, _ = make_policy(params, deterministic=True)(obs, key)
        return action  # type: ignore[no-any-return]

    return act


def zero_action(action_size: int) -> Act:
    return lambda params, obs, key: jnp.zeros(action_size, jnp.float32)


def random_action(action_size: int) -> Act:
    return lambda params, obs, key: jax.random.uniform(key, (action_size,), jnp.float32, -1.0, 1.0)


def scaled_random_action(action_size: int) -> Act:
    """Uniform random actions times `params` (a scalar): 0 gives zero actions from the same function."""
    return lambda params, obs, key: params * jax.random.uniform(key, (action_size,), jnp.float32, -1.0, 1.0)
