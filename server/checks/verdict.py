"""Judging a check's figures (docs/CHECKS.md): the verdict over episodes, the ranking of evaluations that
picks the kept checkpoint, and the early-stop rule. Plain Python on numbers; no JAX."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from server.checks.types import CheckResult, FigureResult

# Deterministic rollouts per evaluation, each from its own initial state. Five let a reacher that missed
# two targets in five elsewhere pass twice in a row (docs/BENCHMARKS.md, behaviour suite).
CHECK_EPISODES = 10


def _number(x: float) -> str:
    """3 significant digits without exponents: 0.996, 12.3, 1000, -0.42."""
    if not math.isfinite(x):
        return str(x)
    if x != 0 and abs(x) < 0.001:
        return f"{x:.1e}"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _requirement(at_least: float | None, at_most: float | None) -> str:
    parts = []
    if at_least is not None:
        parts.append(f">= {_number(at_least)}")
    if at_most is not None:
        parts.append(f"<= {_number(at_most)}")
    return " and ".join(parts)


def _holds(value: float, at_least: float | None, at_most: float | None) -> bool:
    if not math.isfinite(value):
        return False
    return (at_least is None or value >= at_least) and (at_most is None or value <= at_most)


def judge(
    values: Mapping[str, Sequence[float]],
    at_least: Mapping[str, float],
    at_most: Mapping[str, float],
) -> CheckResult:
    """The verdict of figure values per episode (`values[name][episode]`), in the figures' order."""
    episodes = min((len(v) for v in values.values()), default=0)
    required = [n for n in values if n in at_least or n in at_most]
    figures: list[FigureResult] = []
    episode_ok = [True] * episodes
    held = 0
    nonfinite: list[str] = []
    for name, per_episode in values.items():
        low, high = at_least.get(name), at_most.get(name)
        row = [float(v) for v in per_episode[:episodes]]
        if any(not math.isfinite(v) for v in row):
            nonfinite.append(name)
        met = 0
        for index, value in enumerate(row):
            ok = _holds(value, low, high) if name in required else math.isfinite(value)
            met += ok
            if name in required:
                held += ok
                episode_ok[index] = episode_ok[index] and ok
        finite = [v for v in row if math.isfinite(v)]
        mean = sum(finite) / len(finite) if finite else math.nan
        if not finite:
            worst = math.nan
        elif low is None and high is not None:
            worst = max(finite)
        else:
            worst = min(finite)
        figures.append(FigureResult(name=name, mean=mean, worst=worst, at_least=low, at_most=high, met=met))
    passed_episodes = sum(episode_ok)
    pairs = len(required) * episodes
    score = held / pairs if pairs else 0.0
    passed = episodes > 0 and bool(required) and passed_episodes == episodes and not nonfinite
    error = (
        f"figure {', '.join(f'`{n}`' for n in nonfinite)} was NaN or infinite (counted as not met)"
        if nonfinite
        else None
    )
    return CheckResult(
        passed=passed,
        episodes=episodes,
        passed_episodes=passed_episodes,
        score=score,
        figures=figures,
        summary=_summary(passed, passed_episodes, episodes, figures),
        error=error,
    )


def _summary(passed: bool, passed_episodes: int, episodes: int, figures: list[FigureResult]) -> str:
    shown = []
    for f in figures:
        requirement = _requirement(f.at_least, f.at_most)
        if requirement:
            worst = "" if passed or f.met == episodes else f", worst {_number(f.worst)}"
            shown.append(f"{f.name} {_number(f.mean)} ({requirement}{worst})")
        else:
            shown.append(f"{f.name} {_number(f.mean)}")
    verdict = "passed" if passed else "failed"
    return f"{verdict}: {', '.join(shown)} in {passed_episodes}/{episodes} episodes"


# A requirement whose figure's mean reached this share of it was close (see `reached`).
CLOSE = 0.85


def reached(figure: FigureResult) -> float:
    """How much of its requirement the figure's mean reached: 1 = met, 0 = nothing (signed scale; a
    requirement at or across zero has no scale, so it reads 0 unless met)."""
    if figure.at_least is not None and figure.at_least > 0:
        return figure.mean / figure.at_least
    if figure.at_most is not None and figure.at_most < 0:
        return figure.mean / figure.at_most
    if figure.at_most is not None and figure.at_most > 0:
        return figure.at_most / max(figure.mean, 1e-9)
    return 0.0


def failing_figures(result: CheckResult) -> list[FigureResult]:
    """The required figures that did not hold in every episode."""
    return [
        f
        for f in result.figures
        if (f.at_least is not None or f.at_most is not None) and f.met < result.episodes
    ]


def near_miss(result: CheckResult) -> bool:
    """The verdict failed, but every failing figure's mean came within CLOSE of its requirement: the
    policy does most of the task (a reflection round continues it rather than starting over)."""
    failing = failing_figures(result)
    return (
        not result.passed
        and result.error is None
        and bool(failing)
        and all(math.isfinite(f.mean) and reached(f) >= CLOSE for f in failing)
    )


def rank(check: CheckResult | None, eval_reward: float | None) -> tuple[float, float, float]:
    """Sort key of an evaluation for keeping the best: verdict first, then the check's score, then the
    eval reward (a non-finite reward ranks last)."""
    reward = eval_reward if eval_reward is not None and math.isfinite(eval_reward) else -math.inf
    if check is None:
        return (0.0, 0.0, reward)
    return (1.0 if check.passed else 0.0, check.score, reward)


@dataclass
class EarlyStop:
    """Stop once the check has passed in every episode for `evals` evaluations in a row (0: never)."""

    evals: int
    streak: int = 0

    def update(self, check: CheckResult | None) -> bool:
        self.streak = self.streak + 1 if check is not None and check.passed else 0
        return self.evals > 0 and self.streak >= self.evals
