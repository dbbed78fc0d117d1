"""Typed records of success checks that cross the API: a check's figures and requirements, the result of
judging rollouts with it, and what a training job kept because of it. Plain data, no JAX."""

from __future__ import annotations

from typing import Literal

import msgspec


class CheckFigure(msgspec.Struct, frozen=True, kw_only=True):
    """One figure of a validated check program, as written: `def <name>(s):` and its requirement."""

    name: str
    at_least: float | None  # the check passes only if this figure is >= at_least (in every episode)
    at_most: float | None  # ... and <= at_most; a figure with neither is reported, not required
    code: str  # the figure's function source, as written


class FigureResult(msgspec.Struct, frozen=True, kw_only=True):
    """One figure over the evaluation episodes."""

    name: str
    mean: float  # mean over the episodes
    worst: float  # the episode furthest from the requirement (lowest for at_least, highest for at_most)
    at_least: float | None
    at_most: float | None
    met: int  # episodes in which the requirement held (every episode when the figure has none)


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """A check applied to deterministic rollouts of one policy from several initial states."""

    passed: bool  # every requirement held in every episode
    episodes: int
    passed_episodes: int  # episodes in which every requirement held
    score: float  # share of (episode, requirement) pairs that held, 0..1: ranks checkpoints that fail
    figures: list[FigureResult]
    summary: str  # one line for people: "passed: upright 0.996 (>= 0.95) in 5/5 episodes"
    error: str | None = None  # the check could not be computed (a NaN figure); counts as failed


# completed: ran its whole budget; check_passed: stopped early, the check held for enough evaluations in
# a row; time_cap: the job's time budget ran out; stopped: the user stopped it and the best was kept.
StopReason = Literal["completed", "check_passed", "time_cap", "stopped"]


class TrainingOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """Which checkpoint a job kept, and why: the best by (verdict, check score, eval reward), never
    blindly the last."""

    kept_step: int  # environment steps at the kept evaluation
    kept_eval_reward: float | None
    check: CheckResult | None  # the kept policy's verdict, re-judged on unseen starts; None: no check
    stop_reason: StopReason
    stopped_early: bool  # stop_reason is not "completed"


class TermStats(msgspec.Struct, frozen=True, kw_only=True):
    """One reward term over the kept evaluation's episodes: per-episode sums, their mean and spread."""

    name: str
    weight: float
    mean: float
    std: float


class Reflection(msgspec.Struct, frozen=True, kw_only=True):
    """What a failed job's evaluation saw, for revising its reward (the drafter's or an LLM's input)."""

    task_description: str
    program: str  # the reward program that was trained
    check: str  # the check it failed
    result: CheckResult  # the kept checkpoint's verdict and figures
    terms: list[TermStats]  # at the kept evaluation
    eval_rewards: list[float]  # the curve: eval reward at each evaluation
    check_scores: list[float]  # the check's score at each evaluation
    kept_step: int
    total_steps: int
    round: int  # the round that failed (0: the first job)
