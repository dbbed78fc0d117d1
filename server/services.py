"""The services Robocoach runs on, opened and closed in one place: the app's lifespan and `robocoach train`
both use `Services`, and request handlers receive its parts by dependency injection (server/app.py).

Also the use cases that more than one front end runs, such as `start_job` (HTTP and the CLI).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import msgspec

from server.checks.types import CheckResult
from server.inference.service import InferenceService
from server.llm.config import load_llm_config
from server.llm.service import LLMService
from server.policies.library import PolicyLibrary, UnknownPolicy
from server.rewards.checker import RewardChecker, RewardWorkerError
from server.rewards.types import ValidationReport
from server.scenes.registry import SceneRegistry
from server.scenes.types import SceneInfo
from server.settings import Settings
from server.storage.database import Database
from server.training.manager import TrainingManager
from server.training.types import JobSpec, JobStatus

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    scenes: SceneRegistry  # Playground scenes, exported by worker processes
    rewards: RewardChecker  # static check here, trace check in a worker started on first use
    llm: LLMService
    policies: PolicyLibrary  # trained and imported policies
    training: TrainingManager  # the job queue, one per backend
    inference: InferenceService  # a worker per policy being played, started on demand

    @classmethod
    def open(cls, settings: Settings, *, auto_resume: bool = True) -> Services:
        """Opens the database and builds every service; nothing runs until `start()`. `auto_resume`: queue
        again the jobs a previous run left interrupted (the app does; a command-line run trains its own)."""
        database = Database(settings.database_path)
        policies = PolicyLibrary(settings.data_dir, shipped_dir=settings.bases_dir)
        return cls(
            settings=settings,
            database=database,
            scenes=SceneRegistry(settings.cache_dir),
            rewards=RewardChecker(settings.cache_dir),
            llm=LLMService(settings, load_llm_config(), database),
            policies=policies,
            training=TrainingManager(settings, database, policies=policies, auto_resume=auto_resume),
            inference=InferenceService(settings),
        )

    def __post_init__(self) -> None:
        from server.planning.reflection import Reflector

        # A job whose kept policy fails its check is revised and trained again (docs/CHECKS.md).
        self.training.reflect = Reflector(self.rewards, self.llm)
        # A running job's newest params play in its live preview (docs/PREVIEW.md): the manager tells
        # playback when the job's live/ folder changes and when its run ends.
        self.training.preview = self.inference

    def start(self, *, build_scenes: bool = True) -> None:
        """Starts the background work (scene export, the job queue). Needs the running event loop."""
        if build_scenes:
            self.scenes.start()
        self.training.start()

    async def close(self) -> None:
        """Stops everything, newest first: playback, training, the reward worker, scene workers, database."""
        await self.inference.close()
        await self.training.close()
        await self.rewards.close()
        await self.scenes.close()
        self.database.close()


class UnknownBasePolicy(UnknownPolicy):
    """The job's `base_policy_id` names no saved policy."""


class BasePolicyMismatch(ValueError):  # noqa: N818
    """The base policy was trained on another scene than the job's."""


class InvalidProgramError(Exception):
    """The job's reward program did not pass validation; `report` locates each error."""

    def __init__(self, report: ValidationReport, what: str = "the reward program") -> None:
        super().__init__(f"{what} does not pass validation")
        self.report = report


async def start_job(services: Services, spec: JobSpec) -> JobStatus:
    """Validate, then submit: the scene must exist (UnknownScene, SceneFailedError), the base policy must
    exist and be for that scene (UnknownBasePolicy, BasePolicyMismatch), and the program must pass the full
    validation, static and trace (InvalidProgramError). Then the job is queued."""
    await services.scenes.get(spec.scene_id)
    if spec.base_policy_id is not None:
        try:
            base = services.policies.get(spec.base_policy_id)
        except UnknownPolicy as exc:
            raise UnknownBasePolicy(spec.base_policy_id) from exc
        if base.scene_id != spec.scene_id:
            raise BasePolicyMismatch(
                f"base policy '{base.policy_id}' was trained on {base.scene_id}, not {spec.scene_id}"
            )
    report = await services.rewards.validate(spec.scene_id, spec.program)
    if not report.ok:
        raise InvalidProgramError(report)
    if spec.check is not None:
        check_report = await services.rewards.validate_check(spec.scene_id, spec.check)
        if not check_report.ok:
            raise InvalidProgramError(check_report, "the success check")
    return services.training.submit(spec)


async def judge_base(
    rewards: RewardChecker, policies: PolicyLibrary, scene: SceneInfo, base_id: str | None, check: str | None
) -> CheckResult | None:
    """A drafted check's verdict on the base a fine-tune would start from, for the planner (plan_tiers'
    `base_check`). None without a check or a base to judge (base_to_judge), or when it cannot be judged:
    logged, and the plan stands as it was."""
    folder = base_to_judge(policies, scene, base_id)
    if folder is None or check is None:
        return None
    try:
        return await rewards.judge_base(scene.id, check, folder)
    except RewardWorkerError as exc:
        log.warning("the base %s was not judged on the task's check: %s", base_id, exc)
        return None


def base_to_judge(policies: PolicyLibrary, scene: SceneInfo, base_id: str | None) -> Path | None:
    """The folder of the base a draft's check is judged on (judge_base), or None: no base, a scene
    outside the dm_control suite (rolling out a Menagerie robot's base on the CPU would make the draft
    wait a minute), or a base gone from the library."""
    if base_id is None or scene.family != "classic_control":
        return None
    try:
        return policies.folder(base_id)
    except UnknownPolicy:
        return None


async def prepare_base(
    services: Services,
    scene_id: str,
    *,
    preset: str = "auto",
    timesteps: int | None = None,
    seed: int = 0,
) -> JobStatus:
    """ "Prepare a base policy": a job training `scene_id`'s own task (server/planning/bases.py) with the
    built-in drafter's reward and success check, whose policy the library keeps as a base (make_base).
    The default preset trains on the GPU (or Modal) when there is one. UnknownScene for an unknown id."""
    from server.llm.builtin import draft_builtin, draft_builtin_check
    from server.planning.bases import base_name, base_task

    scene = await services.scenes.get(scene_id)
    vocabulary = await services.rewards.vocabulary(scene.id)
    task = base_task(scene)
    spec = msgspec.convert(
        {
            "scene_id": scene.id,
            "program": draft_builtin(task, scene.id, vocabulary),
            "task_description": task,
            "name": base_name(scene),
            "preset": preset,
            "timesteps": timesteps,
            "seed": seed,
            "check": draft_builtin_check(task, scene.id, vocabulary),
            # One job: a base is the drafted task as it is, judged by its check, not a revised reward.
            "reflection_rounds": 0,
            "make_base": True,
        },
        JobSpec,
    )
    return await start_job(services, spec)
