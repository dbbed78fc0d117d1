"""`robocoach train` in process, with the fake worker and stand-ins for scenes and the reward checker:
the saved policy's path on stdout, progress and the verdict on stderr, exit codes for bad input, failure,
a policy that fails its check, and Ctrl+C. How a job and its reflection rounds are followed is driven by
a scripted manager, since the fake worker judges no check."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from desktop.cli import main
from desktop.logs import setup_logging
from desktop.train import (
    EXIT_CHECK_FAILED,
    EXIT_INTERRUPTED,
    StatusLine,
    confirmation_line,
    follow,
    format_number,
    progress_line,
    route_logs_around,
)
from server.checks.types import CheckResult, FigureResult, TrainingOutcome
from server.policies.library import PolicyLibrary
from server.rewards.static_check import check_check
from server.rewards.types import ValidationReport
from server.scenes.types import SceneInfo
from server.training.jobs import InvalidTransition
from server.training.manager import TrainingManager
from server.training.types import JobSpec, JobStatus, TrainingProgress
from tests.training.test_api_training import HOSTILE, NAMES, PROGRAM, StubRewards, StubScenes

CHECK = (
    "AT_LEAST = dict(upright=0.95)\n\n\ndef upright(s):\n    return jnp.mean(jnp.cos(s.pole_angle) > 0.95)\n"
)


class Scenes(StubScenes):
    def __init__(self, *_args: object, **_kw: object) -> None:
        pass

    def start(self) -> None:
        pass

    async def get(self, scene_id: str) -> SceneInfo:  # type: ignore[override]
        await super().get(scene_id)
        return SceneInfo(
            id=scene_id, name=scene_id, family="classic_control", robot="Cartpole", kind="cartpole",
            examples=[], num_actuators=1, action_size=1, observation_size={"state": [5]}, ctrl_dt=0.01,
            sim_dt=0.01, n_substeps=1, keyframes=[], model_bytes=1, model_sha256="0", mujoco_version="0",
        )  # fmt: skip

    async def close(self) -> None:
        pass


class Rewards(StubRewards):
    def __init__(self, *_args: object, **_kw: object) -> None:
        pass

    async def validate_check(self, scene_id: str, source: str) -> ValidationReport:
        return check_check(source, set(NAMES))[0]  # the real static check; no rollouts here

    async def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROBOCOACH_BASES_DIR", str(tmp_path / "no-bases"))  # only the bases a test ships
    monkeypatch.setattr("server.services.SceneRegistry", Scenes)
    monkeypatch.setattr("server.services.RewardChecker", Rewards)
    monkeypatch.setattr("server.training.manager.WORKER_MODULE", "tests.training.fake_worker")


def train(tmp_path: Path, *extra: str, program: str = PROGRAM) -> int:
    reward = tmp_path / "reward.py"
    reward.write_text(program)
    args = ["train", "--scene", "CartpoleBalance", "--reward", str(reward), "--data-dir", str(tmp_path / "d")]
    return main([*args, *extra])


# ---- formatting ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1000.0, "1000"),
        (999.7, "1000"),
        (123456.4, "123456"),
        (12.34, "12.3"),
        (3.214, "3.21"),
        (2.0, "2"),
        (0.5, "0.5"),
        (0.012345, "0.0123"),
        (0.99996, "1"),
        (-547.2, "-547"),
        (-0.0001234, "-0.000123"),
        (0.0, "0"),
        (-1e-12, "0"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
    ],
)
def test_format_number_writes_plain_numbers(value: float, text: str) -> None:
    assert format_number(value) == text
    assert "e" not in format_number(value * 1e6) and "e" not in format_number(value * 1e-6 + 1e-3)


def check_result(passed: int, episodes: int = 5, *, error: str | None = None) -> CheckResult:
    ok = passed == episodes and error is None
    figure = FigureResult(name="upright", mean=0.9, worst=0.4, at_least=0.95, at_most=None, met=passed)
    verdict = "passed" if ok else "failed"
    return CheckResult(
        passed=ok, episodes=episodes, passed_episodes=passed, score=passed / episodes, figures=[figure],
        summary=f"{verdict}: upright 0.9 (>= 0.95) in {passed}/{episodes} episodes", error=error,
    )  # fmt: skip


def job_status(
    job_id: str = "j1",
    state: str = "running",
    *,
    progress: TrainingProgress | None = None,
    outcome: TrainingOutcome | None = None,
    policy_id: str | None = None,
    next_job_id: str | None = None,
    round: int = 0,
) -> JobStatus:
    now = datetime.now(UTC)
    spec = JobSpec(scene_id="CartpoleBalance", program=PROGRAM, check=CHECK, round=round)
    return JobStatus(
        job_id=job_id, state=state, spec=spec, device="cpu", created_at=now, started_at=now,  # type: ignore[arg-type]
        finished_at=None, progress=progress, history=[], error=None, policy_id=policy_id, resumable=False,
        outcome=outcome, next_job_id=next_job_id,
    )  # fmt: skip


def progress(step: int, eval_reward: float | None, check: CheckResult | None = None) -> TrainingProgress:
    return TrainingProgress(
        step=step, total_steps=4_000_000, eval_reward=eval_reward, reward_terms={}, task_reward=None,
        steps_per_second=30_000.0, elapsed_s=10.0, eta_s=65.0, check=check,
    )  # fmt: skip


def test_progress_line_with_and_without_a_check() -> None:
    plain = progress_line(job_status(progress=progress(1_000_000, 1000.0)))
    assert plain == "[######------------------] 1000000/4000000 steps  eval 1000  ETA 1:05"
    checked = job_status(progress=progress(2_000_000, 12.34, check_result(3)))
    assert progress_line(checked) == (
        "[############------------] 2000000/4000000 steps  eval 12.3  check 3/5  ETA 1:05"
    )
    passed = job_status(progress=progress(2_000_000, 0.0123, check_result(5)))
    assert "eval 0.0123  check 5/5 passed  ETA" in progress_line(passed)
    assert progress_line(checked, detail=True).endswith(
        "eval 12.3  ETA 1:05  check failed: upright 0.9 (>= 0.95) in 3/5 episodes"
    )
    broken = job_status(progress=progress(2_000_000, 1.0, check_result(0, error="figure upright is NaN")))
    assert "check error" in progress_line(broken)
    assert "check could not be computed: figure upright is NaN" in progress_line(broken, detail=True)
    # Before the first evaluation: what it is doing, and for how long.
    compiling = progress_line(job_status(), elapsed_s=42)
    assert (
        compiling
        == "[0:42] compiling the policy and the scene (the first evaluation; 1-8 minutes on a CPU)..."
    )
    assert progress_line(job_status(state="queued")) == "queued..."


def test_a_check_that_held_but_failed_new_starts_says_why_training_goes_on() -> None:
    held = progress(2_000_000, 900.0, check_result(5))
    assert confirmation_line(held) is None
    assert confirmation_line(msgspec.structs.replace(held, confirmation=check_result(20, 20))) is None
    failed = msgspec.structs.replace(held, confirmation=check_result(17, 20))
    assert confirmation_line(failed) == (
        "the check held, but the kept policy on 20 new starts: check failed: upright 0.9 (>= 0.95) in "
        "17/20 episodes; training on"
    )


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_records_clear_the_bar_and_redraw_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = FakeTty()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging(tmp_path, "info", "secret-token")
    line = StatusLine(stream)
    route_logs_around(line)
    try:
        line.draw("[###---] 30/60 steps  eval 12.3")
        logging.getLogger("server.training").warning("a worker said something about secret-token")
        line.say("a message")
        line.end()
    finally:
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
            handler.close()
    text = stream.getvalue()
    bar = "[###---] 30/60 steps  eval 12.3"
    cleared = text.split("\r\x1b[K")
    # drawn, cleared before the record, the record on its own line (redacted), then the bar drawn again
    assert cleared[0] == f"\r{bar}\x1b[K"
    assert cleared[1].startswith("20") and "a worker said something about <redacted>\n" in cleared[1]
    assert cleared[1].endswith(f"\r{bar}")
    assert cleared[2] == f"a message\n\r{bar}\n"
    assert (tmp_path / "robocoach.log").read_text().count("a worker said something") == 1


def test_off_a_terminal_nothing_is_redrawn() -> None:
    stream = io.StringIO()
    line = StatusLine(stream)
    line.draw("[#--] 1/3")
    line.emit("[##-] 2/3")
    line.say("done")
    line.end()
    assert stream.getvalue() == "[##-] 2/3\ndone\n"


# ---- the command, with the real manager and the fake worker ---------------------------------------------
def _estimate(timesteps: int | None = None) -> str:
    """The CLI's estimate sentence for CartpoleBalance: the scene's measured speed (presets.py)."""
    from server.training.presets import duration_text, estimate_seconds

    return duration_text(estimate_seconds("auto", scene_id="CartpoleBalance", timesteps=timesteps))


def test_trains_and_prints_the_policy_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(tmp_path, "--name", "steps=3 sleep=0.05", "--timesteps", "1000", "--seed", "7") == 0
    out, err = capsys.readouterr()
    folder = Path(out.strip())
    assert (folder / "params.msgpack").is_file() and (folder / "manifest.json").is_file()
    [summary] = PolicyLibrary(tmp_path / "d").list()
    assert folder.name == summary.id
    manifest = PolicyLibrary(tmp_path / "d").get(summary.id)
    assert manifest.program == PROGRAM
    assert f"Estimate: {_estimate(1000)} on this computer's CPU" in err
    assert "no success check: give --check FILE" in err
    # stderr is not a terminal here: one plain line per evaluation, no \r redraws
    assert "\r" not in err
    assert "[------------------------] 0/20 steps  eval 0  ETA 0:00\n" in err
    assert "[########################] 20/20 steps  eval 2  ETA 0:00\n" in err
    assert f"saved to {folder}" in err


def test_options_reach_the_job_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check = tmp_path / "check.py"
    check.write_text(CHECK)
    options = ("--minutes", "1.5", "--check", str(check), "--no-early-stop", "--rounds", "0")
    assert train(tmp_path, "--name", "steps=2", *options) == 0
    [seen] = (tmp_path / "d" / "jobs").glob("*/job_seen.json")
    spec = msgspec.json.decode(seen.read_bytes())["spec"]
    assert spec["time_budget_s"] == 90.0
    assert spec["check"] == CHECK
    assert spec["early_stop_evals"] == 0 and spec["reflection_rounds"] == 0
    err = capsys.readouterr().err
    assert f"Estimate: {_estimate()} on this computer's CPU, capped at 1.5 minutes (--minutes)" in err
    assert train(tmp_path, "--name", "steps=2", "--no-check") == 0
    defaults = JobSpec(scene_id="x", program="x")
    seen_files = (tmp_path / "d" / "jobs").glob("*/job_seen.json")
    specs = [msgspec.json.decode(path.read_bytes())["spec"] for path in seen_files]
    [plain] = [s for s in specs if s["check"] is None]
    assert plain["time_budget_s"] is None
    assert plain["early_stop_evals"] == defaults.early_stop_evals
    assert plain["reflection_rounds"] == defaults.reflection_rounds
    assert "no success check (--no-check)" in capsys.readouterr().err


def test_failure_and_bad_input_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(tmp_path, "--name", "outcome=fail") == 1
    assert "training failed: reward term upright produced NaN" in capsys.readouterr().err
    assert train(tmp_path, program=HOSTILE) == 2
    assert "does not pass validation" in capsys.readouterr().err
    assert main(["train", "--scene", "Robodog", "--reward", str(tmp_path / "reward.py")]) == 2
    assert "valid ids: CartpoleBalance" in capsys.readouterr().err
    assert train(tmp_path, "--timesteps", "0") == 2
    assert "invalid training options: Expected `int` >= 1" in capsys.readouterr().err
    assert train(tmp_path, "--check", str(tmp_path / "missing.py")) == 2
    assert "cannot read" in capsys.readouterr().err
    bad_check = tmp_path / "bad_check.py"
    bad_check.write_text("AT_LEAST = dict(upright=0.9)\n\n\ndef upright(s):\n    return s.pole_tilt\n")
    assert train(tmp_path, "--check", str(bad_check)) == 2
    err = capsys.readouterr().err
    assert f"the success check {bad_check} does not pass validation:" in err and "  line 5:" in err
    for bad in (
        ["train", "--scene", "CartpoleBalance"],
        ["train", "--scene", "CartpoleBalance", "--task", "x", "--minutes", "0"],
        ["train", "--scene", "CartpoleBalance", "--task", "x", "--rounds", "6"],
        ["train", "--scene", "CartpoleBalance", "--task", "x", "--check", "c.py", "--no-check"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(bad)
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "exactly one of --task or --reward" in err
    assert "--minutes: 0 must be more than 0" in err
    assert "--rounds: 6 must be at least 0 and at most 5" in err
    assert "not allowed with argument --check" in err


def test_ctrl_c_cancels_the_job_when_stop_is_unavailable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(TrainingManager, "stop", raising=False)
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        assert train(tmp_path, "--name", "steps=1 outcome=hang") == 130
    finally:
        timer.cancel()
    assert "cancelled: job" in capsys.readouterr().err
    assert PolicyLibrary(tmp_path / "d").list() == []


# ---- following a job: verdicts, reflection rounds, Ctrl+C, with a scripted manager ---------------------
class Policies:
    def folder(self, policy_id: str) -> Path:
        return Path("/policies") / policy_id


class ScriptedManager:
    """Plays each job's statuses in order; `stop` ends the job as the real one does (the best kept)."""

    def __init__(self, script: dict[str, list[JobStatus]], *, stop_hangs: bool = False) -> None:
        self.script = script
        self.policies = Policies()
        self.stop_hangs = stop_hangs
        self.stopped: list[str] = []
        self.cancelled: list[str] = []
        self.ended: dict[str, asyncio.Event] = {}

    def status(self, job_id: str) -> JobStatus:
        return (
            self.script[job_id][-1]
            if self.ended.get(job_id, asyncio.Event()).is_set()
            else self.script[job_id][0]
        )

    async def watch(self, job_id: str) -> AsyncIterator[JobStatus]:
        statuses = self.script[job_id]
        for status in statuses[:-1]:
            yield status
            await asyncio.sleep(0)
        if statuses[-1].state == "running":  # runs until stopped or cancelled
            self.ended[job_id] = asyncio.Event()
            await self.ended[job_id].wait()
        yield self.script[job_id][-1]

    async def stop(self, job_id: str) -> JobStatus:
        self.stopped.append(job_id)
        if self.stop_hangs:
            await asyncio.Event().wait()
        self.script[job_id].append(
            job_status(
                job_id, "succeeded", policy_id="p-stopped", outcome=outcome(check_result(5), "stopped")
            )
        )
        self.ended[job_id].set()
        return self.script[job_id][-1]

    async def cancel(self, job_id: str) -> JobStatus:
        self.cancelled.append(job_id)
        if job_id not in self.ended:
            raise InvalidTransition(job_id, "succeeded", "cancelled")
        self.script[job_id].append(job_status(job_id, "cancelled"))
        return self.script[job_id][-1]


def outcome(check: CheckResult | None, reason: str = "completed") -> TrainingOutcome:
    return TrainingOutcome(
        kept_step=1_200_000, kept_eval_reward=987.6, check=check, stop_reason=reason,  # type: ignore[arg-type]
        stopped_early=reason != "completed",
    )  # fmt: skip


def run_follow(manager: ScriptedManager, job_id: str = "j1", *, interrupts: int = 0) -> tuple[int, str]:
    stream = io.StringIO()

    async def go() -> int:
        task = asyncio.ensure_future(follow(manager, job_id, StatusLine(stream)))  # type: ignore[arg-type]
        for _ in range(interrupts):
            await asyncio.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)
        return await asyncio.wait_for(task, 10)

    return asyncio.run(go()), stream.getvalue()


def test_a_saved_policy_that_fails_its_check_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    failing = job_status(
        "j1",
        "succeeded",
        policy_id="p1",
        outcome=outcome(check_result(2)),
        progress=progress(4_000_000, 547.0),
    )
    manager = ScriptedManager({"j1": [job_status("j1", progress=progress(0, 3.0, check_result(0))), failing]})
    code, err = run_follow(manager)
    assert code == EXIT_CHECK_FAILED == 3
    assert capsys.readouterr().out == "/policies/p1\n"
    assert "kept the evaluation at step 1200000 (eval 988); ran its whole budget" in err
    assert "check failed: upright 0.9 (>= 0.95) in 2/5 episodes" in err
    # a job without a check, or whose kept policy passed, exits 0
    passing = job_status("j1", "succeeded", policy_id="p1", outcome=outcome(check_result(5), "check_passed"))
    code, err = run_follow(ScriptedManager({"j1": [passing]}))
    assert code == 0 and "stopped early: the check held" in err
    # a fine-tune whose base passed at step 0 says so, not that a streak of evaluations held
    at_once = msgspec.structs.replace(outcome(check_result(5), "check_passed"), kept_step=0)
    code, err = run_follow(
        ScriptedManager({"j1": [job_status("j1", "succeeded", policy_id="p1", outcome=at_once)]})
    )
    assert code == 0 and "step 0 (eval 988); stopped at once: the base policy already passes" in err
    unjudged = job_status("j1", "succeeded", policy_id="p1", outcome=outcome(None))
    code, err = run_follow(ScriptedManager({"j1": [unjudged]}))
    assert code == 0 and "no success check: the policy was not judged" in err


def test_reflection_rounds_are_followed_to_the_last(capsys: pytest.CaptureFixture[str]) -> None:
    first = job_status("j1", "succeeded", policy_id="p1", outcome=outcome(check_result(1)), next_job_id="j2")
    second = job_status(
        "j2", "succeeded", policy_id="p2", outcome=outcome(check_result(5), "check_passed"), round=1
    )
    code, err = run_follow(ScriptedManager({"j1": [first], "j2": [job_status("j2", round=1), second]}))
    assert code == 0
    assert capsys.readouterr().out == "/policies/p2\n"  # stdout: the last round's policy only
    assert "saved to /policies/p1" in err and "training round 2 of 3 as job j2" in err
    assert err.index("in 1/5 episodes") < err.index("round 2 of 3") < err.index("in 5/5 episodes")
    # the last round fails too: its verdict decides
    still = job_status("j2", "succeeded", policy_id="p2", outcome=outcome(check_result(4)), round=1)
    code, _ = run_follow(ScriptedManager({"j1": [first], "j2": [still]}))
    assert code == EXIT_CHECK_FAILED


def test_ctrl_c_stops_and_keeps_the_best_a_second_cancels(capsys: pytest.CaptureFixture[str]) -> None:
    running = job_status("j1", progress=progress(800_000, 640.0, check_result(4)))
    manager = ScriptedManager({"j1": [running, running]})
    code, err = run_follow(manager, interrupts=1)
    assert manager.stopped == ["j1"] and manager.cancelled == []
    assert code == 0
    assert "stopping: keeping the best evaluation so far (Ctrl+C again to cancel)" in err
    assert "stopped early by Ctrl+C" in err and "check passed" in err
    assert capsys.readouterr().out == "/policies/p-stopped\n"

    manager = ScriptedManager({"j1": [running, running]}, stop_hangs=True)
    code, err = run_follow(manager, interrupts=2)
    assert code == EXIT_INTERRUPTED
    assert manager.stopped == ["j1"] and manager.cancelled == ["j1"]
    assert "cancelled: job j1" in err
    assert capsys.readouterr().out == ""


def test_a_task_drafts_the_reward_and_its_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drafted: list[tuple[str, str]] = []

    def draft_check(task: str, scene_id: str, _vocabulary: object) -> str:
        drafted.append((task, scene_id))
        return CHECK

    monkeypatch.setattr("server.llm.builtin.draft_builtin", lambda *_: PROGRAM)  # the stand-in vocabulary's
    monkeypatch.setattr("server.llm.builtin.draft_builtin_check", draft_check)
    task = "keep the pole upright steps=2"
    code = main(["train", "--scene", "CartpoleBalance", "--task", task, "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert drafted == [(task, "CartpoleBalance")], err
    assert "drafted by builtin" in err
    assert "success check by builtin" in err, err
    assert code in (0, EXIT_CHECK_FAILED), err
    [seen] = (tmp_path / "d" / "jobs").glob("*/job_seen.json")
    spec = msgspec.json.decode(seen.read_bytes())["spec"]
    assert spec["check"] == CHECK and spec["task_description"] == task
    assert f"Estimate: {_estimate()} on this computer's CPU; up to 2 more rounds if the check fails" in err


def test_the_best_round_is_what_the_user_gets() -> None:
    """Across reflection rounds the kept policy is the best verdict, not the last round's."""
    from datetime import UTC, datetime

    from desktop.train import _best_round
    from server.checks.types import TrainingOutcome
    from server.checks.verdict import judge
    from server.training.types import JobSpec, JobStatus

    def round_with(number: int, upright: list[float]) -> tuple[JobStatus, int, Path]:
        check = judge({"upright": upright}, {"upright": 0.9}, {})
        outcome = TrainingOutcome(
            kept_step=10, kept_eval_reward=1000.0 - number, check=check, stop_reason="completed",
            stopped_early=False,
        )  # fmt: skip
        status = JobStatus(
            job_id=f"job{number}", state="succeeded", created_at=datetime.now(UTC), started_at=None,
            finished_at=None, progress=None, history=[], error=None, policy_id=f"p{number}",
            resumable=False, device="cpu", outcome=outcome,
            spec=JobSpec(scene_id="CartpoleBalance", program="x", round=number),
        )  # fmt: skip
        return status, 0 if check.passed else 3, Path(f"/policies/p{number}")

    three, none, one = [0.95] * 3 + [0.5] * 2, [0.2] * 5, [0.95] + [0.5] * 4
    failing = [round_with(0, three), round_with(1, none), round_with(2, one)]
    assert _best_round(failing)[0].job_id == "job0"  # 3/5 episodes beat 1/5 and 0/5
    passing = [round_with(0, [0.95] * 5), round_with(1, none), round_with(2, [0.99] * 5)]
    best = _best_round(passing)
    assert best[0].job_id == "job2" and best[1] == 0  # both pass: the later round
