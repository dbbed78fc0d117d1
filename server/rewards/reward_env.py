"""A Playground env whose reward is a compiled reward program: what training and playback both step.
Worker processes only.

`RewardEnv` wraps the *unbatched* env (brax's vmap/episode/auto-reset wrappers go around it, via
`mujoco_playground.wrapper.wrap_for_brax_training`). Each step it

- replaces `state.reward` by the program's weighted total, with `CompiledReward.safe_total` semantics:
  a non-finite term counts as 0, so one bad term cannot poison a whole batch of gradients;
- logs every term as `metrics["reward/<name>"]` and the scene's own reward as `metrics["reward/task"]`;
- logs `metrics["nonfinite"]` (1 when any term was NaN/inf this step) and `metrics["nonfinite/<name>"]`
  per term, so the runner can fail the job and name the term (brax sums them per episode in evals).

Metric keys are identical in `reset` and `step` (brax's scan carries them). The env's own `reward/*`
metrics are dropped: a program term may share a name with them and the curves must show the program's.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from mujoco_playground._src import mjx_env
from mujoco_playground._src.wrapper import Wrapper

from server.rewards.compile import CompiledReward, guard_finite
from server.rewards.context import RewardContext

PREV_ACTION_KEY = "robocoach_prev_action"  # our own key, so no env's `last_act` semantics leak in
TASK_METRIC = "reward/task"
NONFINITE_METRIC = "nonfinite"


def term_metric(name: str) -> str:
    return f"reward/{name}"


def nonfinite_metric(name: str) -> str:
    return f"{NONFINITE_METRIC}/{name}"


class RewardEnv(Wrapper):  # type: ignore[misc]
    """`env` with `compiled`'s total as its reward. `env` must be unbatched (one world per call)."""

    def __init__(self, env: Any, compiled: CompiledReward) -> None:
        super().__init__(env)
        self.compiled = compiled

    def _metrics(self, base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in base.items() if not k.startswith("reward/")}
        return kept | values

    def reset(self, rng: jax.Array) -> mjx_env.State:
        state = self.env.reset(rng)
        zero = jnp.zeros((), jnp.float32)
        info = dict(state.info)
        info[PREV_ACTION_KEY] = jnp.zeros(self.env.action_size, jnp.float32)
        values = {term_metric(n): zero for n in self.compiled.names}
        values |= {nonfinite_metric(n): zero for n in self.compiled.names}
        values |= {TASK_METRIC: zero, NONFINITE_METRIC: zero}
        return state.replace(  # type: ignore[no-any-return]
            reward=zero, metrics=self._metrics(dict(state.metrics), values), info=info
        )

    def step(self, state: mjx_env.State, action: jax.Array) -> mjx_env.State:
        prev_action = state.info[PREV_ACTION_KEY]
        # A copy of the metrics: some envs write their reward terms into the dict they are given (Playground's
        # cartpole does), which would change `state` itself for whoever still holds it.
        stepped = self.env.step(state.replace(metrics=dict(state.metrics)), action)
        info = dict(stepped.info)  # envs may return the same dict object they were given
        ctx = RewardContext(stepped.data, action, prev_action, info)
        terms = self.compiled.terms(ctx)
        total = jnp.float32(0.0)
        values: dict[str, Any] = {}
        any_bad = jnp.zeros((), jnp.bool_)
        for name in self.compiled.names:
            value = terms[name]
            safe, finite = guard_finite(value)  # as CompiledReward.safe_total, keeping the per-term flag
            total = total + self.compiled.weights[name] * safe
            values[term_metric(name)] = safe.astype(jnp.float32)
            values[nonfinite_metric(name)] = (~finite).astype(jnp.float32)
            any_bad = any_bad | ~finite
        values[TASK_METRIC] = jnp.asarray(stepped.reward, jnp.float32)
        values[NONFINITE_METRIC] = any_bad.astype(jnp.float32)
        info[PREV_ACTION_KEY] = jnp.asarray(action, jnp.float32)
        return stepped.replace(  # type: ignore[no-any-return]
            reward=jnp.asarray(total, jnp.float32),
            metrics=self._metrics(dict(stepped.metrics), values),
            info=info,
        )
