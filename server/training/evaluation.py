"""A training job's evaluations: what the current params do, judged from one set of deterministic rollouts.
Worker processes only (imports JAX).

At each evaluation `Evaluator.evaluate` plays `episodes` whole episodes of the reward env (the scene's own
length, what playback shows) from new initial states, and reads from the same rollouts

- the eval reward, each term's mean and spread and the scene's own reward, summed per episode as brax's
  evaluator sums them (brax's evaluator is switched off: `run_evals=False` in server/training/runner.py),
  and the terms that were NaN or infinite;
- the success check's verdict, judged on the first CHECK_EPISODES of those episodes.

One jitted function serves every evaluation, the kept policy's confirmation and the states its clip draws,
so MJX's step is traced and compiled once for all of them, where brax's evaluator, the check and the clip
each traced and compiled their own: about a quarter of a quick job's time went to brax's evaluator alone
(docs/BENCHMARKS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from server.checks.types import CheckResult
from server.checks.verdict import CHECK_EPISODES
from server.rewards.compile import CompiledReward
from server.rewards.reward_env import TASK_METRIC, nonfinite_metric, term_metric
from server.scenes.loader import LoadedScene

EVAL_EPISODES = 128  # when a preset names no `num_eval_envs`: brax's default, what Playground's configs use
CONFIRM_BATCHES = 2  # the kept policy's final verdict: 2 x CHECK_EPISODES starts no evaluation saw
CONFIRM_KEY = 2**32 - 1  # folded into the seed's key; evaluations fold in their step (< 2**32 - 1)


@dataclass(frozen=True)
class Scores:
    """The reward side of an evaluation: means over its episodes of each episode's sums."""

    eval_reward: float  # the program's weighted total
    reward_terms: dict[str, float]
    reward_term_std: dict[str, float]  # spread over the episodes
    task_reward: float  # the scene's own reward over the same episodes
    nonfinite_terms: list[str]  # terms that were NaN or infinite at some step of some episode


def nonfinite_message(scores: Scores, params_ok: bool) -> str | None:
    """Why an evaluation is unusable, naming the reward term(s) when they are identifiable; None if fine."""
    if scores.nonfinite_terms:
        listed = ", ".join(f"`{n}`" for n in scores.nonfinite_terms)
        return (
            f"reward term {listed} produced NaN or infinite values during training; guard logs, square "
            "roots and divisions (e.g. jnp.log(x + 1e-6), jnp.maximum(x, 0.0))"
        )
    if not math.isfinite(scores.task_reward):
        return "the simulation became unstable (the scene's own reward is NaN); try smaller action terms"
    if not math.isfinite(scores.eval_reward) or not params_ok:
        finite_terms = {n: abs(v) for n, v in scores.reward_terms.items() if math.isfinite(v)}
        suspect = max(finite_terms, key=lambda n: finite_terms[n]) if finite_terms else None
        hint = f"; the largest term is `{suspect}`, consider a smaller weight" if suspect else ""
        return f"training diverged (the policy's parameters became NaN){hint}"
    return None


class Evaluator:
    """Evaluations of one job's params. Each evaluation starts its episodes elsewhere (drawn from the seed
    and the step, so a resumed job draws the same). With the same states every time, a reacher that touched
    5 targets it had seen at each evaluation passed and stopped early, yet missed 2 of 5 others
    (docs/BENCHMARKS.md): two passing evaluations in a row now mean twenty different starts.

    `make_policy` is brax's inference-function maker (`make_policy(params, deterministic=True)`) for the
    network the policy is saved with, what playback plays."""

    def __init__(
        self,
        scene: LoadedScene,
        reward: CompiledReward,
        check: Any,
        make_policy: Any,
        *,
        episodes: int,
        seed: int,
    ) -> None:
        self.scene, self.reward, self.check, self.seed = scene, reward, check, seed
        self.make_policy = make_policy
        self.episodes = max(episodes, CHECK_EPISODES if check is not None else 1)
        self._rollouts: Any = None
        self._figures: Any = None

    def _compiled(self) -> Any:
        """The rollouts, built once (compiled at their first call)."""
        if self._rollouts is None:
            from server.checks.evaluate import figure_values, make_scored_rollouts, policy_action
            from server.rewards.reward_env import RewardEnv

            reads = self.check.reads if self.check is not None else frozenset()
            self._rollouts = make_scored_rollouts(
                RewardEnv(self.scene.env, self.reward),
                self.reward.entries,
                reads,
                self.scene.episode_length,
                self.episodes,
                policy_action(self.make_policy),
            )
            if self.check is not None:
                self._figures = figure_values(self.check)
        return self._rollouts

    def _starts(self, data: int) -> Any:
        """The key of a set of initial states: the seed with `data` (a step, or CONFIRM_KEY) folded in."""
        import jax

        return jax.random.fold_in(jax.random.PRNGKey(self.seed + 7919), data)

    def _judged(self, trajectories: dict[str, Any]) -> dict[str, Any]:
        """Each figure's values over the first CHECK_EPISODES episodes (the check's sample size)."""
        import jax

        first = jax.tree_util.tree_map(lambda x: x[:CHECK_EPISODES], trajectories)
        return self._figures(first)  # type: ignore[no-any-return]

    def evaluate(self, params: Any, step: int) -> tuple[Scores, CheckResult | None]:
        trajectories, totals, _ = self._compiled()(params, self._starts(step % 2**32))
        verdict = self.check.judge(self._judged(trajectories)) if self.check is not None else None
        return self._scores(totals), verdict

    def _scores(self, totals: dict[str, Any]) -> Scores:
        import numpy as np

        sums = {name: np.asarray(value, np.float64) for name, value in totals.items()}
        names = self.reward.names
        return Scores(
            eval_reward=float(sums["reward"].mean()),
            reward_terms={n: float(sums[term_metric(n)].mean()) for n in names},
            reward_term_std={n: float(sums[term_metric(n)].std()) for n in names},
            task_reward=float(sums[TASK_METRIC].mean()),
            nonfinite_terms=[n for n in names if float(sums[nonfinite_metric(n)].sum()) > 0],
        )

    def confirm(self, params: Any) -> CheckResult | None:
        """The kept policy judged once more, from CONFIRM_BATCHES x CHECK_EPISODES starts that no evaluation
        saw: the kept checkpoint is the best of many evaluations, so its own verdict is chosen for luck
        (a reacher kept for passing 10 of 10 starts passed 7 of 10 elsewhere). The verdict a job reports;
        None when there is no check or no params."""
        if params is None or self.check is None:
            return None
        import jax
        import jax.numpy as jnp

        key = self._starts(CONFIRM_KEY)
        rollouts = self._compiled()
        batches = [
            self._judged(rollouts(params, jax.random.fold_in(key, i))[0]) for i in range(CONFIRM_BATCHES)
        ]
        merged = {name: jnp.concatenate([batch[name] for batch in batches]) for name in batches[0]}
        return self.check.judge(merged)  # type: ignore[no-any-return]

    def clip_states(self, params: Any) -> dict[str, Any]:
        """The states of the policy's clip (server/policies/clip.py: its seed's first episode, CLIP_SECONDS
        long) from these rollouts, so the clip compiles nothing more."""
        import jax

        from server.policies.clip import CLIP_SEED, clip_steps, episode_states

        steps = min(clip_steps(float(self.scene.env.dt)), self.scene.episode_length)
        trajectories, _, states = self._compiled()(params, jax.random.PRNGKey(CLIP_SEED))
        return episode_states(trajectories, states, steps)
