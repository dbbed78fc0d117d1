"""`robocoach train`: the server's services (server/services.py), in one asyncio run, without HTTP.

Drafts (or reads) a reward program and its success check (docs/CHECKS.md), prints the time estimate,
starts the job with the same `start_job` use case as `POST /api/training/start` (validate, then submit),
follows it (and the reflection rounds the manager queues after it) through the TrainingManager, and
prints the kept policy's folder on stdout and its verdict on stderr.

On a terminal the progress is one line redrawn in place on stderr, and log records clear it before they
are written; otherwise (a pipe, a log file) it is one plain line per evaluation.

Exit codes: 0 saved and passing its check (or trained without one), 3 saved but failing its check,
1 failed, 2 bad input, 130 cancelled (a second Ctrl+C; the first one stops the job and keeps its best
evaluation so far, which then exits 0 or 3 by its verdict).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from server.rewards.types import ValidationReport
from server.settings import Settings
from server.training.types import JobSpec, JobStatus, TrainingProgress

if TYPE_CHECKING:
    from server.checks.types import CheckResult, TrainingOutcome
    from server.commands.types import ScheduleReport
    from server.planning.plan import TierOption
    from server.scenes.types import SceneFamily, SceneInfo
    from server.services import Services
    from server.training.manager import TrainingManager

EXIT_FAILED, EXIT_USAGE, EXIT_CHECK_FAILED, EXIT_INTERRUPTED = 1, 2, 3, 130
_CLEAR_LINE = "\r\x1b[K"
_STOP_REASONS = {
    "completed": "ran its whole budget",
    "check_passed": "stopped early: the check held for enough evaluations in a row and on new starts",
    "time_cap": "stopped early: the time cap (--minutes) ran out",
    "stopped": "stopped early by Ctrl+C",
}


# ---- formatting -------------------------------------------------------------------------------------
def format_number(value: float) -> str:
    """A figure for people: `1000`, `12.3`, `3.21`, `0.0123` (three significant digits, never `1e+03`;
    values of 100 and more are shown whole)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    decimals = 0 if magnitude >= 100 else min(9, 2 - math.floor(math.log10(magnitude)))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def _check_token(check: CheckResult) -> str:
    if check.error is not None:
        return "check error"
    if check.passed:
        return f"check {check.passed_episodes}/{check.episodes} passed"
    return f"check {check.passed_episodes}/{check.episodes}"


def check_sentence(check: CheckResult) -> str:
    """`check passed: upright 0.996 (>= 0.95) in 5/5 episodes`, or why it could not be computed."""
    if check.error is not None:
        return f"check could not be computed: {check.error}"
    return f"check {check.summary}"


def compiling_line(status: JobStatus, elapsed_s: float | None) -> str:
    hint = "the first evaluation; 1-8 minutes on a CPU" if status.device == "cpu" else "the first evaluation"
    line = f"compiling the policy and the scene ({hint})..."
    return line if elapsed_s is None else f"[{clock(elapsed_s)}] {line}"  # the clock first: lines get cut


def progress_line(
    status: JobStatus, width: int = 24, *, elapsed_s: float | None = None, detail: bool = False
) -> str:
    """`[#####-------] 1200/5000 steps  eval 3.21  check 3/5  ETA 1:05` for the latest progress; before
    the first evaluation, what the job is doing. `detail` puts the check's summary in place of its count
    (for the one-line-per-evaluation output, where the width does not matter)."""
    progress = status.progress
    if progress is None:
        if status.state == "running":
            return compiling_line(status, elapsed_s)
        return f"{status.state}..."
    fraction = min(1.0, progress.step / progress.total_steps) if progress.total_steps else 0.0
    filled = round(fraction * width)
    reward = "-" if progress.eval_reward is None else format_number(progress.eval_reward)
    # The rate is measured from the first evaluation on, so the second compilation has no ETA yet.
    eta = (
        "compiling training..." if progress.eta_s is None and fraction < 1 else f"ETA {clock(progress.eta_s)}"
    )
    bar = f"[{'#' * filled}{'-' * (width - filled)}]"
    line = f"{bar} {progress.step}/{progress.total_steps} steps  eval {reward}"
    check = progress.check
    if check is not None and not detail:
        line += f"  {_check_token(check)}"
    line += f"  {eta}"
    if check is not None and detail:
        line += f"  {check_sentence(check)}"
    return line


def confirmation_line(progress: TrainingProgress) -> str | None:
    """Why a job whose check held goes on: the kept policy failed on starts no evaluation saw."""
    confirmation = progress.confirmation
    if confirmation is None or confirmation.passed:
        return None
    return (
        f"the check held, but the kept policy on {confirmation.episodes} new starts: "
        f"{check_sentence(confirmation)}; training on"
    )


def outcome_lines(outcome: TrainingOutcome) -> list[str]:
    """The kept checkpoint: its verdict, its step and why the job ended."""
    reward = "-" if outcome.kept_eval_reward is None else format_number(outcome.kept_eval_reward)
    why = _STOP_REASONS.get(outcome.stop_reason, outcome.stop_reason)
    if outcome.stop_reason == "check_passed" and outcome.kept_step == 0:  # only a fine-tune judges step 0
        why = "stopped at once: the base policy already passes the check"
    lines = [f"kept the evaluation at step {outcome.kept_step} (eval {reward}); {why}"]
    if outcome.check is None:
        lines.append("no success check: the policy was not judged")
    else:
        lines.append(check_sentence(outcome.check))
    return lines


def verdict_code(status: JobStatus) -> int:
    """0 when the kept policy passed its check or the job had none, EXIT_CHECK_FAILED when it failed it."""
    outcome = status.outcome
    if outcome is None or outcome.check is None:
        return 0
    return 0 if outcome.check.passed and outcome.check.error is None else EXIT_CHECK_FAILED


# ---- the status line --------------------------------------------------------------------------------
class StatusLine:
    """One line of progress on `stream`, redrawn in place with \\r when the stream is a terminal. Messages
    and log records go through `say` / `hide` + `show`, so that they never land on the line's text.
    Elsewhere nothing is redrawn: `emit` prints a plain line."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.text = ""
        self.lock = threading.RLock()  # log records come from other threads too

    def _fit(self, text: str) -> str:
        # A line wider than the terminal wraps, and \r would then redraw only its last row.
        columns = shutil.get_terminal_size((120, 24)).columns
        return text if len(text) < columns else text[: max(columns - 4, 10)] + "..."

    def draw(self, text: str) -> None:
        if not self.tty:
            return
        with self.lock:
            self.text = self._fit(text)
            self.stream.write(f"\r{self.text}\x1b[K")
            self.stream.flush()

    def hide(self) -> None:
        if self.tty and self.text:
            self.stream.write(_CLEAR_LINE)

    def show(self) -> None:
        if self.tty and self.text:
            self.stream.write(f"\r{self.text}")
            self.stream.flush()

    def say(self, message: str) -> None:
        with self.lock:
            self.hide()
            self.stream.write(message + "\n")
            self.show()
            self.stream.flush()

    def emit(self, line: str) -> None:
        """A line that is part of the record: printed as is off a terminal, drawn on one."""
        if self.tty:
            self.draw(line)
        else:
            self.say(line)

    def end(self) -> None:
        """Leaves the drawn line on screen and moves below it."""
        with self.lock:
            if self.tty and self.text:
                self.stream.write("\n")
                self.stream.flush()
            self.text = ""


class StatusLineLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root logger's stderr handler, clearing the status line before a record and redrawing it after."""

    def __init__(self, line: StatusLine, template: logging.Handler) -> None:
        super().__init__(line.stream)
        self.line = line
        self.setLevel(template.level)
        self.setFormatter(template.formatter)
        for log_filter in template.filters:
            self.addFilter(log_filter)

    def emit(self, record: logging.LogRecord) -> None:
        with self.line.lock:
            self.line.hide()
            super().emit(record)
            self.line.show()


def route_logs_around(line: StatusLine) -> None:
    """Replaces the root logger's handler on `line.stream` (desktop/logs.py's stderr handler) with one
    that clears the status line first; the file handler is left as it is."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler and handler.stream is line.stream:
            root.removeHandler(handler)
            root.addHandler(StatusLineLogHandler(line, handler))


# ---- the command ------------------------------------------------------------------------------------
def run_train(args: argparse.Namespace) -> int:
    from desktop.instance import InstanceLock
    from desktop.logs import setup_logging
    from server.settings import load_settings

    settings = load_settings(data_dir=args.data_dir)
    setup_logging(settings.state_dir, args.log_level, settings.token)
    line = StatusLine(sys.stderr)
    # The app's services recover and resume the data dir's jobs: never beside a running app on it.
    instance = InstanceLock.acquire(settings.data_dir)
    if instance is None:
        line.say(
            f"Robocoach is running on {settings.data_dir}: train from its window, close it first, or pass "
            "another --data-dir"
        )
        return EXIT_FAILED
    route_logs_around(line)
    try:
        return asyncio.run(_train(args, settings, line))
    finally:
        instance.release()


@dataclass
class _Programs:
    program: str
    check: str | None  # None: train without a check


async def _validate_check(services: Services, scene_id: str, source: str) -> ValidationReport | None:
    """The check's validation report (static, then on real rollouts); None where the checker has none."""
    validate: Any = getattr(services.rewards, "validate_check", None)
    if validate is None:
        return None
    report: ValidationReport = await validate(scene_id, source)
    return report


def _say_errors(line: StatusLine, what: str, report: ValidationReport) -> None:
    line.say(f"{what} does not pass validation:")
    for error in report.errors:
        line.say(f"  line {error.line}:{error.column}: {error.message}")


async def _draft(args: argparse.Namespace, services: Services, line: StatusLine) -> _Programs | None:
    """The reward program and check drafted from --task; None after saying why not."""
    from server.llm.builtin import draft_builtin, draft_builtin_check
    from server.llm.provider import ProviderError

    vocabulary = await services.rewards.vocabulary(args.scene)

    async def validate(program: str) -> ValidationReport:
        return await services.rewards.validate(args.scene, program)

    async def validate_check(source: str) -> ValidationReport:
        report = await _validate_check(services, args.scene, source)
        return report or ValidationReport(ok=True, errors=[], terms=[])

    line.say(f"drafting a reward program and its success check for {args.scene}...")
    try:
        draft = await services.llm.draft(
            args.task,
            args.scene,
            vocabulary,
            validate,
            validate_check=validate_check,
            provider=None,
            model=None,
            builtin=draft_builtin,
            builtin_check=draft_builtin_check,
        )
    except ProviderError as exc:
        line.say(f"drafting failed ({exc.failure.provider}: {exc.failure.cause}): {exc.failure.detail}")
        return None
    line.say(f"drafted by {draft.provider} ({draft.model}) in {draft.attempts} attempt(s)")
    for note in draft.notes:
        line.say(note)
    if args.no_check or args.check is not None:
        return _Programs(draft.program, None)  # replaced by --check FILE, or none
    if not draft.check_report.ok:
        _say_errors(line, "the drafted success check", draft.check_report)
        line.say("give --check FILE with a corrected check, or --no-check to train without one")
        return None
    line.say(f"success check by {draft.check_source}")
    return _Programs(draft.program, draft.check)


async def _programs(args: argparse.Namespace, services: Services, line: StatusLine) -> _Programs | int:
    """The reward program (--reward, or drafted from --task) and the check (--check, drafted, or none);
    an exit code after saying why not."""
    if args.reward is not None:
        try:
            programs = _Programs(str(args.reward.read_text(encoding="utf-8")), None)
        except OSError as exc:
            line.say(f"cannot read {args.reward}: {exc.strerror}")
            return EXIT_USAGE
    else:
        drafted = await _draft(args, services, line)
        if drafted is None:
            return EXIT_FAILED
        programs = drafted
    if args.no_check:
        line.say("no success check (--no-check): the kept policy is the best eval reward, not judged")
        return _Programs(programs.program, None)
    if args.check is not None:
        try:
            check = str(args.check.read_text(encoding="utf-8"))
        except OSError as exc:
            line.say(f"cannot read {args.check}: {exc.strerror}")
            return EXIT_USAGE
        report = await _validate_check(services, args.scene, check)
        if report is not None and not report.ok:
            _say_errors(line, f"the success check {args.check}", report)
            return EXIT_USAGE
        return _Programs(programs.program, check)
    if args.reward is not None:
        line.say("no success check: give --check FILE to judge the policy (a --task drafts one)")
    return programs


def _estimate(spec: JobSpec, family: SceneFamily, device: str) -> str:
    from server.training.presets import duration_text, estimate_seconds

    if device != "cpu":
        return "Estimate: none for a GPU (training speeds were measured on CPUs)"
    seconds = estimate_seconds(spec.preset, family=family, timesteps=spec.timesteps, scene_id=spec.scene_id)
    sentence = f"Estimate: {duration_text(seconds)} on this computer's CPU"
    if spec.time_budget_s is not None and spec.time_budget_s < seconds:
        sentence += f", capped at {format_number(spec.time_budget_s / 60)} minutes (--minutes)"
    if spec.check is not None and spec.reflection_rounds > 0:
        rounds = spec.reflection_rounds
        sentence += f"; up to {rounds} more round{'s' if rounds != 1 else ''} if the check fails"
        if spec.base_policy_id is not None:  # a failed fine-tune is followed by training from scratch
            full = estimate_seconds(spec.preset, family=family, scene_id=spec.scene_id)
            sentence += (
                f", trained from scratch ({duration_text(full).removeprefix('about ')} each)"
                " unless it nearly passed"
            )
    return sentence


def _spec(
    args: argparse.Namespace, program: str, check: str | None, tier: TierOption | None = None
) -> JobSpec:
    """The job spec from the arguments, with the API's own limits applied (msgspec.ValidationError). A
    fine-tune tier starts from its base with the planner's budget (unless --timesteps says otherwise)."""
    tuning = tier if tier is not None and tier.method == "fine_tuning" else None
    fields: dict[str, Any] = {
        "scene_id": args.scene,
        "program": program,
        "task_description": args.task or "",
        "name": args.name,
        "preset": args.preset,
        "timesteps": tuning.timesteps if tuning and args.timesteps is None else args.timesteps,
        "base_policy_id": tuning.base_policy if tuning else None,
        "time_budget_s": None if args.minutes is None else args.minutes * 60.0,
        "seed": args.seed,
        "check": check,
    }
    if args.no_early_stop:
        fields["early_stop_evals"] = 0
    if args.rounds is not None:
        fields["reflection_rounds"] = args.rounds
    # Constructing a Struct does not check its Meta limits; decoding does, as the API does.
    return msgspec.convert(fields, JobSpec)


async def _train(args: argparse.Namespace, settings: Settings, line: StatusLine | None = None) -> int:
    from server.scenes.registry import SceneFailedError, UnknownScene
    from server.services import InvalidProgramError, Services, start_job

    line = line or StatusLine(sys.stderr)
    # The app's services, opened and closed as the app's lifespan does. auto_resume off: a command-line
    # run trains its own job, not jobs the app left interrupted.
    services = Services.open(settings, auto_resume=False)
    services.start()
    try:
        try:
            scene = await services.scenes.get(args.scene)  # before drafting: a draft needs the scene
            services.scenes.cancel_pending()  # the other scenes' exports would slow training down
        except UnknownScene as exc:
            line.say(f"unknown scene '{args.scene}'; valid ids: {', '.join(exc.valid_ids)}")
            return EXIT_USAGE
        except SceneFailedError as exc:
            line.say(f"scene '{args.scene}' failed to load: {exc.error}")
            return EXIT_FAILED
        tier = await _plan(args, services, scene, line)
        if isinstance(tier, int):
            return tier
        programs = await _programs(args, services, line)
        if isinstance(programs, int):
            return programs
        if tier.method == "fine_tuning" and args.tier is None:
            tier = await _reconsider(args, services, scene, tier, programs.check, line)
        try:
            spec = _spec(args, programs.program, programs.check, tier)
        except msgspec.ValidationError as exc:
            line.say(f"invalid training options: {exc}")
            return EXIT_USAGE
        manager = services.training
        line.say(_estimate(spec, scene.family, manager.device))
        try:
            job = await start_job(services, spec)  # validate, then submit: the same use case as HTTP
        except InvalidProgramError as exc:
            _say_errors(line, "the reward program", exc.report)
            return EXIT_USAGE if args.reward is not None else EXIT_FAILED
        line.say(
            f"training job {job.job_id} on {job.device} (log: {manager.job_dir(job.job_id) / 'worker.log'})"
        )
        return await follow(manager, job.job_id, line)
    finally:
        line.end()
        await services.close()


# ---- the tiers ----------------------------------------------------------------------------------------
async def _schedule(
    args: argparse.Namespace, services: Services, scene: SceneInfo, line: StatusLine
) -> ScheduleReport | None:
    """The command schedule drafted from --task for a joystick scene (None: no command spec, no --task,
    or the sentence is no motion command)."""
    if scene.command is None or not args.task:
        return None
    report, notes = await services.llm.draft_schedule(args.task, scene.id, scene.command)
    for note in notes:
        line.say(note)
    return report


async def _plan(
    args: argparse.Namespace, services: Services, scene: SceneInfo, line: StatusLine
) -> TierOption | int:
    """The planner's tier for --budget (or the forced --tier), after listing the three; for the command
    tier, the schedule is printed and the exit code returned (nothing to train)."""
    from server.planning.plan import TierUnavailable, plan_tiers

    schedule = await _schedule(args, services, scene, line)  # never raises ProviderError
    try:
        chosen, options, _ = plan_tiers(
            scene,
            schedule_possible=schedule is not None and schedule.ok,
            bases=services.policies.bases(scene.id),
            device=services.training.device,
            budget=args.budget,
            override=args.tier,
        )
    except TierUnavailable as exc:
        line.say(f"--tier {exc.method}: {exc}")
        return EXIT_USAGE
    for option in options:
        mark = "*" if option is chosen else " "
        what = option.estimate if option.available else f"unavailable: {option.unavailable_reason}"
        line.say(f" {mark} {option.method}: {what}")
    if chosen.method != "command":
        if chosen.method == "fine_tuning":
            line.say(
                f"fine-tuning the base policy {chosen.base_policy} (--tier full_training trains from scratch)"
            )
        return chosen
    assert schedule is not None and schedule.schedule is not None  # the command tier needs one
    base = services.policies.get(chosen.base_policy or "")
    line.say(f"command tier: no training; the base policy '{base.name}' ({base.policy_id}) would play:")
    for index, segment in enumerate(schedule.schedule.segments, 1):
        values = (
            ", ".join(f"{key} {format_number(value)}" for key, value in segment.command.items()) or "stand"
        )
        label = f"  ({segment.label})" if segment.label else ""
        line.say(f"  {index}. {format_number(segment.duration_s)} s: {values}{label}")
    if schedule.schedule.repeat:
        line.say("  then again from the start")
    for note in schedule.clipped:
        line.say(f"  clipped: {note}")
    line.say(
        f"to play it, open the app (robocoach), pick {scene.id}, type the task and press Play on the command "
        "tier; the command line has no window"
    )
    print(base.policy_id, flush=True)  # stdout: the base that would play, for scripts
    return 0


async def _reconsider(
    args: argparse.Namespace,
    services: Services,
    scene: SceneInfo,
    tier: TierOption,
    check: str | None,
    line: StatusLine,
) -> TierOption:
    """The planner's fine-tune again, once the drafted check has judged the base it starts from: a base
    that does none of the task is not fine-tuned under --budget fast (server/planning/plan.py)."""
    from server.planning.plan import plan_tiers
    from server.services import judge_base

    base_check = await judge_base(services.rewards, services.policies, scene, tier.base_policy, check)
    if base_check is None:
        return tier
    line.say(f"the base policy {tier.base_policy} on this task's check: {base_check.summary}")
    chosen, _, _ = plan_tiers(
        scene,
        # The command tier was not chosen before, and a check's verdict does not make it possible.
        schedule_possible=False,
        bases=services.policies.bases(scene.id),
        device=services.training.device,
        budget=args.budget,
        base_check=base_check,
    )
    if chosen.method != tier.method:
        line.say(
            f"it does none of the task: training from scratch instead ({chosen.estimate}; "
            "--tier fine_tuning fine-tunes anyway)"
        )
    return chosen


# ---- following a job and its reflection rounds ------------------------------------------------------
@dataclass
class _Watch:
    status: JobStatus
    running_since: float | None = None  # monotonic time the job was first seen running
    printed_steps: int = -1  # the last evaluation printed as a plain line (or, on a terminal, noted)
    stopping: bool = False

    def elapsed(self) -> float | None:
        return None if self.running_since is None else time.monotonic() - self.running_since


def _render(watch: _Watch, line: StatusLine) -> None:
    status = watch.status
    if status.state == "running" and watch.running_since is None:
        watch.running_since = time.monotonic()
    progress = status.progress
    if line.tty:
        if progress is not None and progress.step != watch.printed_steps:
            watch.printed_steps = progress.step
            if note := confirmation_line(progress):
                line.say(note)
        text = progress_line(status, elapsed_s=watch.elapsed())
        stopping = watch.stopping and status.state == "running"
        line.draw(f"{text}  (stopping, keeping the best so far...)" if stopping else text)
        return
    if progress is None:
        if status.state == "running" and watch.printed_steps == -1:
            line.say(compiling_line(status, None))
            watch.printed_steps = -2
        return
    if progress.step != watch.printed_steps:
        watch.printed_steps = progress.step
        line.say(progress_line(status, detail=True))
        if note := confirmation_line(progress):
            line.say(note)


async def _watch_job(
    manager: TrainingManager, job_id: str, line: StatusLine, interrupts: asyncio.Queue[int]
) -> JobStatus | None:
    """The job's final status; None when it was cancelled by a second Ctrl+C (or SIGTERM)."""
    watch = _Watch(manager.status(job_id))

    async def follow_changes() -> JobStatus:
        async for status in manager.watch(job_id):
            watch.status = status
            _render(watch, line)
        return watch.status

    async def tick() -> None:  # the compile clock and the ETA move between events too
        while True:
            await asyncio.sleep(1.0)
            _render(watch, line)

    watcher = asyncio.ensure_future(follow_changes())
    ticker = asyncio.ensure_future(tick()) if line.tty else None
    stopper: asyncio.Future[Any] | None = None
    try:
        while True:
            interrupt = asyncio.ensure_future(interrupts.get())
            await asyncio.wait({watcher, interrupt}, return_when=asyncio.FIRST_COMPLETED)
            if watcher.done():
                interrupt.cancel()
                return watcher.result()
            signum = interrupt.result()
            stop = getattr(manager, "stop", None)  # keeps the best evaluation so far
            if signum == signal.SIGINT and stopper is None and stop is not None:
                watch.stopping = True
                line.say("stopping: keeping the best evaluation so far (Ctrl+C again to cancel)")
                stopper = asyncio.ensure_future(stop(job_id))
                _render(watch, line)
                continue
            from server.training.jobs import InvalidTransition

            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            try:
                status = await manager.cancel(job_id)
            except InvalidTransition:
                status = manager.status(job_id)
            line.end()
            line.say(f"{status.state}: job {job_id}")
            return None
    finally:
        if ticker is not None:
            ticker.cancel()
        if stopper is not None:
            await _settle(stopper)
        line.end()


async def _settle(stopper: asyncio.Future[Any]) -> None:
    """Waits for manager.stop; a job that ended meanwhile cannot be stopped, which is fine."""
    from server.training.jobs import InvalidTransition

    if not stopper.done():
        stopper.cancel()
    with contextlib.suppress(asyncio.CancelledError, InvalidTransition):
        await stopper


async def _next_round(manager: TrainingManager, status: JobStatus) -> str | None:
    """The reflection round queued after `status`, allowing the manager a moment to queue it."""
    outcome = status.outcome
    if (
        status.state != "succeeded"
        or outcome is None
        or outcome.check is None
        or outcome.check.passed
        or outcome.stop_reason == "stopped"
        or status.spec.round >= status.spec.reflection_rounds
    ):
        return status.next_job_id
    for _ in range(20):
        if status.next_job_id is not None:
            return status.next_job_id
        await asyncio.sleep(0.1)
        status = manager.status(status.job_id)
    return status.next_job_id


async def follow(manager: TrainingManager, job_id: str, line: StatusLine) -> int:
    """Follows the job and the reflection rounds after it; prints the best round's kept policy (by its
    verdict; module docstring) and exits by that policy's verdict."""
    loop = asyncio.get_running_loop()
    interrupts: asyncio.Queue[int] = asyncio.Queue()
    loop.add_signal_handler(signal.SIGINT, interrupts.put_nowait, signal.SIGINT)
    loop.add_signal_handler(signal.SIGTERM, interrupts.put_nowait, signal.SIGTERM)
    rounds: list[tuple[JobStatus, int, Path]] = []  # each round that saved a policy
    try:
        while True:
            final = await _watch_job(manager, job_id, line, interrupts)
            if final is None:
                return EXIT_INTERRUPTED
            code, folder = _report(manager, final, line)
            if folder is not None:
                rounds.append((final, code, folder))
            stopped = final.outcome is not None and final.outcome.stop_reason == "stopped"
            next_id = await _next_round(manager, final)
            if next_id is not None and stopped:  # the user asked to stop: a round queued anyway is unwanted
                from server.training.jobs import InvalidTransition

                with contextlib.suppress(InvalidTransition):
                    await manager.cancel(next_id)
                line.say(f"cancelled the reflection round queued after it (job {next_id})")
                next_id = None
            if next_id is None:
                if not rounds:
                    return code
                best, best_code, best_folder = _best_round(rounds)
                if best.job_id != final.job_id and best.outcome is not None and best.outcome.check:
                    line.say(
                        f"the best of the {len(rounds)} rounds is round {best.spec.round + 1}: "
                        f"{best.outcome.check.summary}"
                    )
                    line.say(f"its policy: {best_folder}")
                print(best_folder, flush=True)  # stdout: the policy the user gets, for scripts
                return best_code
            spec = manager.status(next_id).spec
            # Rounds counted as the app's training panel does: the first job is round 1.
            line.say(
                f"the kept policy fails its check: the reward was revised; training round {spec.round + 1} "
                f"of {max(spec.reflection_rounds, spec.round) + 1} as job {next_id}"
            )
            job_id = next_id
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)


def _best_round(rounds: list[tuple[JobStatus, int, Path]]) -> tuple[JobStatus, int, Path]:
    """The round whose kept policy the user gets: passed first, then the check's score; the later round
    on a tie. Eval rewards are not compared: each round trained a different reward."""

    def key(item: tuple[JobStatus, int, Path]) -> tuple[float, float, int]:
        check = item[0].outcome.check if item[0].outcome is not None else None
        if check is None:
            return (0.0, 0.0, item[0].spec.round)
        return (1.0 if check.passed else 0.0, check.score, item[0].spec.round)

    return max(rounds, key=key)


def _report(manager: TrainingManager, final: JobStatus, line: StatusLine) -> tuple[int, Path | None]:
    """Says how a finished job ended (its verdict, where its policy was saved): its exit code and folder."""
    if final.state != "succeeded" or final.policy_id is None:
        line.say(f"training {final.state}: {final.error or 'no reason given'}")
        return EXIT_FAILED, None
    folder = manager.policies.folder(final.policy_id)
    if final.outcome is not None:
        for text in outcome_lines(final.outcome):
            line.say(text)
    line.say(f"saved to {folder}")
    return verdict_code(final), folder
