"""Reflection: when a job's kept policy fails its success check, revise the reward from what the
evaluation saw and queue the next round (docs/CHECKS.md). The training manager awaits `Reflector` before
it marks the failed job final, so that job's final status already names the round that follows.

The revision itself is the drafting service's (`LLMService.revise`: the active LLM provider with
Eureka-style feedback, or the built-in drafter's deterministic revision); this module gathers the
feedback, validates through the reward checker, and builds the next job's spec.
"""

from __future__ import annotations

import logging
import math

import msgspec

from server.checks.types import Reflection, TermStats
from server.checks.verdict import near_miss
from server.llm.service import LLMService
from server.policies.manifest import PolicyManifest
from server.rewards.checker import RewardChecker
from server.rewards.static_check import static_check
from server.rewards.types import ValidationReport
from server.training.presets import FINE_TUNE_FRACTION
from server.training.types import JobSpec, JobStatus

log = logging.getLogger(__name__)


def reflection_of(status: JobStatus, manifest: PolicyManifest, vocabulary: set[str]) -> Reflection | None:
    """What the failed job's evaluations saw, or None when it has no failed check to learn from."""
    outcome, spec = manifest.outcome, status.spec
    if outcome is None or outcome.check is None or spec.check is None:
        return None
    history = status.history or manifest.metrics_history
    kept = next((p for p in reversed(history) if p.step == outcome.kept_step), None)
    weights = {t.name: t.weight for t in static_check(spec.program, vocabulary).terms}
    terms = (
        [
            TermStats(
                name=name, weight=weights.get(name, 0.0), mean=mean, std=kept.reward_term_std.get(name, 0.0)
            )
            for name, mean in kept.reward_terms.items()
        ]
        if kept is not None
        else []
    )
    return Reflection(
        task_description=spec.task_description,
        program=spec.program,
        check=spec.check,
        result=outcome.check,
        terms=terms,
        eval_rewards=[p.eval_reward if p.eval_reward is not None else math.nan for p in history],
        check_scores=[p.check.score if p.check is not None else 0.0 for p in history],
        kept_step=outcome.kept_step,
        total_steps=history[-1].total_steps if history else 0,
        round=spec.round,
    )


class Reflector:
    """The training manager's `reflect` hook: the next round's spec for a job that failed its check."""

    def __init__(self, rewards: RewardChecker, llm: LLMService) -> None:
        self.rewards = rewards
        self.llm = llm

    async def __call__(self, status: JobStatus, manifest: PolicyManifest) -> JobSpec | None:
        from server.llm.builtin import revise_builtin

        spec = status.spec
        vocabulary = await self.rewards.vocabulary(spec.scene_id)
        reflection = reflection_of(status, manifest, {e.name for e in vocabulary.entries})
        if reflection is None:
            return None

        async def validate(program: str) -> ValidationReport:
            return await self.rewards.validate(spec.scene_id, program)

        async def validate_check(check: str) -> ValidationReport:
            return await self.rewards.validate_check(spec.scene_id, check)

        revision = await self.llm.revise(
            reflection,
            spec.scene_id,
            vocabulary,
            validate,
            validate_check,
            provider=None,
            model=None,
            builtin_revise=revise_builtin,
        )
        if not revision.report.ok or not revision.check_report.ok:
            log.warning("the revised reward for job %s did not validate; no further round", status.job_id)
            return None
        # A near miss is continued, not started over; only on this computer, where the kept policy's
        # files are (a fine-tune runs locally, and a Modal job's budget is a GPU's, not this CPU's).
        continued = manifest.policy_id if status.backend == "local" and near_miss(reflection.result) else None
        return next_round(
            spec,
            status.job_id,
            revision.program,
            revision.check,
            revision.notes,
            revision.timesteps_factor,
            reflection.total_steps,
            continue_from=continued,
        )


def next_round(
    spec: JobSpec,
    job_id: str,
    program: str,
    check: str | None,
    notes: list[str],
    timesteps_factor: float,
    total_steps: int,
    *,
    continue_from: str | None = None,
) -> JobSpec:
    """The next round's spec: the revised reward and check, linked to the failed job.

    `continue_from` (the failed round's kept policy, when it was a near miss: `near_miss`) makes the round
    a fine-tune of that policy with the revised reward, for FINE_TUNE_FRACTION of the steps the failed
    round ran: the centred swing-up's first round balanced 0.27 m off the middle (0.25 asked), and
    starting over lost the swing-up it had learned (docs/BENCHMARKS.md, behaviour suite).

    Otherwise a fine-tune that failed its check trains from scratch next (the full-training tier, its
    preset's own budget): a fine-tune passes at once when its base already does the task, and measured on
    the cart-pole, one that must learn something new made no headway in its short budget where training
    from scratch on the same reward passed (docs/BENCHMARKS.md, tiers)."""
    timesteps = spec.timesteps
    base = spec.base_policy_id
    if continue_from is not None and total_steps > 0:
        timesteps = math.ceil(total_steps * FINE_TUNE_FRACTION * max(1.0, timesteps_factor))
        notes = [
            f"Round {spec.round + 1}'s kept policy nearly passed its check, so this round continues it with "
            f"the revised reward (a fine-tune of {timesteps:,} steps) instead of starting over.",
            *notes,
        ]
        base = continue_from
    elif base is not None:
        notes = [
            f"The fine-tune of policy {base} did not pass its check, so this round trains from "
            "scratch with the full budget.",
            *notes,
        ]
        base, timesteps = None, None
    elif timesteps_factor > 1.0 and total_steps > 0:
        timesteps = math.ceil(total_steps * timesteps_factor)
    return msgspec.structs.replace(
        spec,
        program=program,
        check=check,
        timesteps=timesteps,
        base_policy_id=base,
        parent_job_id=job_id,
        round=spec.round + 1,
        revision_notes=[note[:500] for note in notes[:20]],
    )
