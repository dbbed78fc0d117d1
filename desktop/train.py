"""`robocoach train`: the server's services (server/services.py), in one asyncio run, without HTTP.

Drafts (or reads) a reward program, starts the job with the same `start_job` use case as
`POST /api/training/start` (validate, then submit), follows it through the TrainingManager, draws a
one-line progress bar on stderr and prints the saved policy's folder on stdout. Exit codes: 0 saved,
1 failed, 2 bad input, 130 Ctrl+C (the job is cancelled first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING

from server.settings import Settings
from server.training.types import JobSpec, JobStatus

if TYPE_CHECKING:
    from server.services import Services
    from server.training.manager import TrainingManager

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def progress_line(status: JobStatus, width: int = 24) -> str:
    """`[#####-------] 1200/5000 steps  eval 3.21  ETA 1:05` for the latest progress (or the state)."""
    progress = status.progress
    if progress is None:
        return f"{status.state}..."
    fraction = min(1.0, progress.step / progress.total_steps) if progress.total_steps else 0.0
    filled = round(fraction * width)
    reward = "-" if progress.eval_reward is None else f"{progress.eval_reward:.3g}"
    return (
        f"[{'#' * filled}{'-' * (width - filled)}] {progress.step}/{progress.total_steps} steps  "
        f"eval {reward}  ETA {_clock(progress.eta_s)}"
    )


def run_train(args: argparse.Namespace) -> int:
    from desktop.logs import setup_logging
    from server.settings import load_settings

    settings = load_settings(data_dir=args.data_dir)
    setup_logging(settings.state_dir, args.log_level, settings.token)
    return asyncio.run(_train(args, settings))


async def _program(args: argparse.Namespace, services: Services) -> str | None:
    """The reward program from --reward, or drafted from --task; None after saying why not."""
    if args.reward is not None:
        try:
            return str(args.reward.read_text(encoding="utf-8"))
        except OSError as exc:
            _err(f"cannot read {args.reward}: {exc.strerror}")
            return None
    from server.llm.builtin import draft_builtin
    from server.llm.provider import ProviderError
    from server.rewards.types import ValidationReport

    vocabulary = await services.rewards.vocabulary(args.scene)

    async def validate(program: str) -> ValidationReport:
        return await services.rewards.validate(args.scene, program)

    _err(f"drafting a reward program for {args.scene}...")
    try:
        draft = await services.llm.draft(
            args.task, args.scene, vocabulary, validate, provider=None, model=None, builtin=draft_builtin
        )
    except ProviderError as exc:
        _err(f"drafting failed ({exc.failure.provider}: {exc.failure.cause}): {exc.failure.detail}")
        return None
    _err(f"drafted by {draft.provider} ({draft.model}) in {draft.attempts} attempt(s)")
    return draft.program


async def _train(args: argparse.Namespace, settings: Settings) -> int:
    from server.scenes.registry import SceneFailedError, UnknownScene
    from server.services import InvalidProgramError, Services, start_job

    # The app's services, opened and closed as the app's lifespan does. auto_resume off: a command-line
    # run trains its own job, not jobs the app left interrupted.
    services = Services.open(settings, auto_resume=False)
    services.start()
    try:
        try:
            await services.scenes.get(args.scene)  # before drafting: a draft needs the scene
        except UnknownScene as exc:
            _err(f"unknown scene '{args.scene}'; valid ids: {', '.join(exc.valid_ids)}")
            return EXIT_USAGE
        except SceneFailedError as exc:
            _err(f"scene '{args.scene}' failed to load: {exc.error}")
            return EXIT_FAILED
        program = await _program(args, services)
        if program is None:
            return EXIT_FAILED
        spec = JobSpec(
            scene_id=args.scene,
            program=program,
            task_description=args.task or "",
            name=args.name,
            preset=args.preset,
            timesteps=args.timesteps,
            seed=args.seed,
        )
        try:
            job = await start_job(services, spec)  # validate, then submit: the same use case as HTTP
        except InvalidProgramError as exc:
            _err("the reward program does not pass validation:")
            for error in exc.report.errors:
                _err(f"  line {error.line}:{error.column}: {error.message}")
            return EXIT_USAGE if args.reward is not None else EXIT_FAILED
        manager = services.training
        _err(f"training job {job.job_id} on {job.device} (log: {manager.job_dir(job.job_id) / 'worker.log'})")
        return await _follow(manager, job.job_id)
    finally:
        await services.close()


async def _follow(manager: TrainingManager, job_id: str) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def watch() -> JobStatus:
        last = manager.status(job_id)
        async for status in manager.watch(job_id):
            last = status
            print(f"\r{progress_line(status)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr, flush=True)
        return last

    watcher = asyncio.ensure_future(watch())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({watcher, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
    if not watcher.done():
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        status = await manager.cancel(job_id)
        _err(f"\n{status.state}: job {job_id}")
        return EXIT_INTERRUPTED
    stopper.cancel()
    final = watcher.result()
    if final.state == "succeeded" and final.policy_id is not None:
        print(manager.policies.folder(final.policy_id), flush=True)
        return 0
    _err(f"training {final.state}: {final.error or 'no reason given'}")
    return EXIT_FAILED
