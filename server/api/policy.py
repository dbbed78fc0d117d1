"""Drafting a task from a sentence (`POST /api/policy/generate`, the product's documented endpoint): the
reward program and its success check (from an LLM or the offline drafter), validated, with how it will
be trained and how long that takes. The response is a `TaskDraft`: a "policy" in this codebase is a
trained network.

`POST /api/policy/commands` is the command tier's fast path: only the command schedule and the tier, no
reward drafting or validation (no reward worker), so a joystick scene's Play can start while the reward
and the other tiers are still being drafted by generate."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

import msgspec
from litestar import Response, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from server.api.errors import SCENE_ERRORS, SceneErrorBody
from server.checks.types import CheckResult
from server.commands.types import ScheduleReport
from server.llm.service import CheckSource, LLMService
from server.llm.types import ProviderFailure, ProviderName
from server.planning.plan import TierOption, TierUnavailable, TimeBudget, TrainingMethod, plan_tiers
from server.policies.library import PolicyLibrary
from server.rewards.checker import RewardChecker
from server.rewards.types import TermType, ValidationReport
from server.scenes.registry import SceneRegistry
from server.scenes.types import SceneInfo
from server.training.manager import TrainingManager


class GenerateRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    task_description: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    scene_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    provider: ProviderName | None = None  # None: the active provider
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    time_budget: TimeBudget = "fast"  # the planner takes the cheapest tier that can do the task
    method: TrainingMethod | None = None  # force a tier (422 with the reason when it cannot run)


class RewardFunction(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: TermType
    weight: float
    code: str


class TaskDraft(msgspec.Struct, frozen=True, kw_only=True):
    """What the drafter made of a sentence; `policy_id` names the draft (kept for the documented API)."""

    policy_id: str
    task_description: str
    scene_id: str
    training_method: TrainingMethod
    training_time_estimate: str  # a sentence for people
    training_time_estimate_s: float
    reward_functions: list[RewardFunction]
    program: str  # the whole validated program; what training will run
    validation: ValidationReport
    provider: ProviderName
    model: str
    attempts: int  # drafts needed before one validated (the repair loop)
    base_policy: str | None = None
    check: str | None = None  # the success check program (docs/CHECKS.md), validated like the reward
    check_validation: ValidationReport | None = None  # its report: figures and requirements, or errors
    # Who wrote the check: "builtin" for the offline drafter, or when the provider's never validated.
    check_source: CheckSource | None = None
    notes: list[str] = msgspec.field(default_factory=list)  # e.g. why the built-in check was used
    time_budget: TimeBudget = "fast"
    options: list[TierOption] = msgspec.field(default_factory=list)  # the three tiers, cheapest first
    # The command tier's schedule for a joystick scene (checked and clipped against its command ranges).
    command_schedule: ScheduleReport | None = None
    # The drafted check on rollouts of the base a fine-tune would start from (dm_control scenes): a base
    # that fails it from every start does none of the task, and the planner then trains from scratch.
    base_check: CheckResult | None = None


class CommandsRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    task_description: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    scene_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    provider: ProviderName | None = None  # None: the active provider
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class CommandDraft(msgspec.Struct, frozen=True, kw_only=True):
    """The command tier alone for a sentence: its schedule (None for a scene that takes no command or a
    sentence that is no motion command), the base it would drive, and the tier as the planner offers it
    (`option.available` false with the reason when it cannot play)."""

    scene_id: str
    schedule: ScheduleReport | None
    base_policy: str | None
    option: TierOption
    notes: list[str] = msgspec.field(default_factory=list)


class TierUnavailableExtra(msgspec.Struct, frozen=True, kw_only=True):
    method: TrainingMethod


class TierUnavailableBody(msgspec.Struct, frozen=True, kw_only=True):
    """The 422 body when the asked `method` cannot run: `detail` says why and the one action that fixes it."""

    status_code: int
    detail: str
    extra: TierUnavailableExtra


_RESPONSES = {
    **SCENE_ERRORS,
    422: ResponseSpec(
        data_container=cast("type[Any]", SceneErrorBody | TierUnavailableBody),  # a oneOf
        generate_examples=False,
        description="The scene's environment failed to load, or the asked method cannot run here (why, "
        "and how to make it possible)",
    ),
    502: ResponseSpec(
        data_container=ProviderFailure,
        generate_examples=False,
        description="The provider failed (no key, bad key, rate limit, timeout, down, unusable output)",
    ),
}


@post("/api/policy/generate", status_code=200, responses=_RESPONSES)
async def generate_policy(
    scenes: NamedDependency[SceneRegistry],
    rewards: NamedDependency[RewardChecker],
    llm: NamedDependency[LLMService],
    policies: NamedDependency[PolicyLibrary],
    training: NamedDependency[TrainingManager],
    data: JSONBody[GenerateRequest],
) -> TaskDraft | Response[ProviderFailure]:
    """The reward program and check for the sentence, the three tiers (options) with the planner's choice
    for `time_budget` (or the forced `method`: 422 with the reason when it cannot run), and for a joystick
    scene the command schedule the command tier would play."""
    from server.llm.builtin import draft_builtin, draft_builtin_check
    from server.llm.provider import ProviderError
    from server.services import judge_base

    scene = await scenes.get(data.scene_id)
    schedule, schedule_notes = await _draft_schedule(llm, scene, data)  # never raises ProviderError

    def plan(base_check: CheckResult | None = None) -> tuple[TierOption, list[TierOption], str | None]:
        return plan_tiers(
            scene,
            schedule_possible=schedule is not None and schedule.ok,
            bases=policies.bases(scene.id),
            device=training.device,
            budget=data.time_budget,
            override=data.method,
            base_check=base_check,
        )

    try:
        chosen, options, base_policy = plan()
    except TierUnavailable as exc:  # before drafting the reward: nothing the user asked for can run
        raise HTTPException(
            status_code=HTTP_422_UNPROCESSABLE_ENTITY, detail=str(exc), extra={"method": exc.method}
        ) from exc
    vocabulary = await rewards.vocabulary(scene.id)

    async def validate(program: str) -> ValidationReport:
        return await rewards.validate(scene.id, program)

    async def validate_check(source: str) -> ValidationReport:
        return await rewards.validate_check(scene.id, source)

    try:
        draft = await llm.draft(
            data.task_description,
            scene.id,
            vocabulary,
            validate,
            validate_check=validate_check,
            provider=data.provider,
            model=data.model,
            builtin=draft_builtin,
            builtin_check=draft_builtin_check,
        )
    except ProviderError as exc:
        return Response(exc.failure, status_code=502)
    if not draft.report.ok:  # only the offline drafter returns an invalid draft: a bug of ours, said plainly
        first = draft.report.errors[0]
        detail = f"the built-in drafter wrote an invalid program (line {first.line}: {first.message})"
        return Response(
            ProviderFailure(provider=draft.provider, cause="bad_output", detail=detail), status_code=502
        )
    base_check = None
    if chosen.method == "fine_tuning" and draft.check_report.ok:
        base_check = await judge_base(rewards, policies, scene, base_policy, draft.check)
        if base_check is not None:  # the same plan, now knowing what the base does
            chosen, options, base_policy = plan(base_check)
    return TaskDraft(
        policy_id=uuid.uuid4().hex,
        task_description=data.task_description,
        scene_id=scene.id,
        training_method=chosen.method,
        training_time_estimate=chosen.estimate,
        training_time_estimate_s=chosen.estimate_s or 0.0,
        reward_functions=[
            RewardFunction(name=t.name, type=t.type, weight=t.weight, code=t.code) for t in draft.report.terms
        ],
        program=draft.program,
        validation=draft.report,
        provider=draft.provider,
        model=draft.model,
        attempts=draft.attempts,
        # An invalid built-in check (our bug) is returned with its located errors for the user to edit:
        # the reward is good, and a job start validates the check again.
        check=draft.check,
        check_validation=draft.check_report,
        check_source=draft.check_source,
        notes=[*draft.notes, *schedule_notes],
        base_policy=base_policy,
        time_budget=data.time_budget,
        options=options,
        command_schedule=schedule,
        base_check=base_check,
    )


@post("/api/policy/commands", status_code=200, responses=SCENE_ERRORS)
async def draft_commands(
    scenes: NamedDependency[SceneRegistry],
    llm: NamedDependency[LLMService],
    policies: NamedDependency[PolicyLibrary],
    training: NamedDependency[TrainingManager],
    data: JSONBody[CommandsRequest],
) -> CommandDraft:
    """The command tier only: the sentence's command schedule and the base it would drive, without
    drafting or validating a reward (answers in about a second, while generate may take much longer).
    The same schedule and tier generate returns for the sentence."""
    scene = await scenes.get(data.scene_id)
    schedule, notes = await _draft_schedule(llm, scene, data)
    _chosen, options, _base = plan_tiers(
        scene,
        schedule_possible=schedule is not None and schedule.ok,
        bases=policies.bases(scene.id),
        device=training.device,
    )
    command = next(o for o in options if o.method == "command")
    return CommandDraft(
        scene_id=scene.id, schedule=schedule, base_policy=command.base_policy, option=command, notes=notes
    )


async def _draft_schedule(
    llm: LLMService, scene: SceneInfo, data: GenerateRequest | CommandsRequest
) -> tuple[ScheduleReport | None, list[str]]:
    """The command tier's schedule for a joystick scene and its notes; (None, []) for other scenes. None
    also when the sentence is no motion command (the tier then says so)."""
    if scene.command is None:
        return None, []
    return await llm.draft_schedule(
        data.task_description, scene.id, scene.command, provider=data.provider, model=data.model
    )
