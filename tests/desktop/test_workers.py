"""Worker processes started the frozen app's way (server/workers.py, `robocoach --worker MODULE`), and
workers that cannot start: each service says which worker and why, at once, never a hang.

The frozen app is simulated by setting `sys.frozen` and pointing `sys.executable` at the installed
`robocoach` script: the services then start `robocoach --worker MODULE ...`, which goes through the same
dispatch in desktop/cli.py as the PyInstaller executable. The failing workers are real processes too: a
missing executable, and one that dies at start with an import error on stderr."""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from server.inference.service import InferenceService, PlaybackUnavailable
from server.rewards.checker import RewardChecker, RewardWorkerError
from server.settings import Settings
from server.storage.database import Database
from server.training.manager import TrainingManager
from server.training.types import JobSpec
from server.workers import (
    DEVICE_PROBE,
    INFERENCE_WORKER,
    TRACE_WORKER,
    TRAINING_WORKER,
    WORKER_MODULES,
    worker_argv,
)
from tests.desktop.conftest import robocoach_command
from tests.training.fake_worker import manifest_for, write_policy

CRASH_LINE = "ModuleNotFoundError: No module named 'jax_is_missing_here'"


def frozen(monkeypatch: pytest.MonkeyPatch, executable: str | Path) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(executable))


@pytest.fixture
def crashing_app(tmp_path: Path) -> Path:
    """An 'app executable' that dies at start the way a worker missing a module does."""
    script = tmp_path / "crashing-robocoach"
    script.write_text(
        f'#!/bin/sh\necho "Traceback (most recent call last):" >&2\necho "{CRASH_LINE}" >&2\nexit 3\n'
    )
    script.chmod(0o755)
    return script


def installed_robocoach() -> Path:
    command = robocoach_command()
    if len(command) != 1:
        pytest.skip("the `robocoach` console script is not installed in this environment")
    return Path(command[0])


# ---- the argv --------------------------------------------------------------------------------------
def test_worker_argv_from_source_and_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert worker_argv(TRACE_WORKER, "a", "b") == [sys.executable, "-m", TRACE_WORKER, "a", "b"]
    assert worker_argv("tests.training.fake_worker") == [sys.executable, "-m", "tests.training.fake_worker"]
    with pytest.raises(ValueError, match="not one of Robocoach's worker modules"):
        worker_argv("os")
    frozen(monkeypatch, "/opt/robocoach/robocoach")
    assert worker_argv(TRAINING_WORKER, "/jobs/1") == [
        "/opt/robocoach/robocoach",
        "--worker",
        TRAINING_WORKER,
        "/jobs/1",
    ]
    with pytest.raises(ValueError):  # a frozen app has no tests to run
        worker_argv("tests.training.fake_worker")


def test_every_worker_is_a_module_the_services_use() -> None:
    from server.inference import service
    from server.training import manager

    assert {manager.WORKER_MODULE, service.WORKER_MODULE, TRACE_WORKER, DEVICE_PROBE} == WORKER_MODULES
    for module in WORKER_MODULES:
        assert importlib.util.find_spec(module) is not None, module


# ---- the command line ------------------------------------------------------------------------------
def test_unknown_worker_exits_2_with_the_known_names(tmp_path: Path) -> None:
    result = subprocess.run(
        [*robocoach_command(), "--worker", "os", "-c", "print('ran')"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "ran" not in result.stdout
    assert "os is not one of Robocoach's workers" in result.stderr
    assert TRACE_WORKER in result.stderr


def test_worker_dispatch_runs_the_module_as_main() -> None:
    """The GPU probe through the CLI: prints its JSON list (empty without CUDA) and exits 0."""
    result = subprocess.run(
        [*robocoach_command(), "--worker", DEVICE_PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("[")


def test_version_is_the_package_version_and_imports_nothing_heavy() -> None:
    result = subprocess.run([*robocoach_command(), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"robocoach {importlib.metadata.version('robocoach')}"
    code = (
        "import sys\nfrom desktop.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('uvicorn', 'litestar', 'jax', 'mujoco', 'server.app') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert loaded.stdout.strip().splitlines()[-1] == "[]", loaded.stderr


# ---- a real worker started the frozen way ----------------------------------------------------------
def test_frozen_app_starts_the_reward_trace_worker_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen(monkeypatch, installed_robocoach())

    async def main() -> tuple[list[str], str]:
        checker = RewardChecker(tmp_path / "cache", test_hooks=True)
        try:
            keys = await checker.worker_env_keys()
            pid = checker.worker_pid
            assert pid is not None
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            return keys, cmdline
        finally:
            await checker.close()

    keys, cmdline = asyncio.run(main())
    assert f"--worker {TRACE_WORKER}" in cmdline
    assert "PATH" in keys and not any("TOKEN" in key or "KEY" in key for key in keys)


# ---- workers that cannot start -------------------------------------------------------------------
def test_reward_checker_says_which_worker_failed_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crashing_app: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def vocabulary() -> None:
        checker = RewardChecker(tmp_path / "cache", start_timeout_s=60)
        try:
            await asyncio.wait_for(checker.vocabulary("CartpoleBalance"), 30)
        finally:
            await checker.close()

    frozen(monkeypatch, tmp_path / "no-such-robocoach")
    with pytest.raises(RewardWorkerError, match=r"reward trace worker .* could not start: No such file"):
        asyncio.run(vocabulary())
    frozen(monkeypatch, crashing_app)
    with pytest.raises(RewardWorkerError) as failed:
        asyncio.run(vocabulary())
    message = str(failed.value)
    assert "reward trace worker" in message and "exited with code 3" in message and CRASH_LINE in message
    assert CRASH_LINE in caplog.text  # the log says it too


def test_training_job_says_which_worker_failed_and_why(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch, crashing_app: Path
) -> None:
    spec = JobSpec(scene_id="CartpoleBalance", program="WEIGHTS = {}\n")

    async def run_one() -> tuple[str, str]:
        m = TrainingManager(app_settings, Database(app_settings.database_path), device="cpu", poll_s=0.05)
        m.start()
        try:
            job = m.submit(spec)
            for _ in range(600):
                status = m.status(job.job_id)
                if status.state not in ("queued", "running"):
                    return status.state, status.error or ""
                await asyncio.sleep(0.05)
            raise AssertionError("the job never ended")
        finally:
            await m.close()

    frozen(monkeypatch, app_settings.data_dir / "no-such-robocoach")
    state, error = asyncio.run(run_one())
    assert state == "failed"
    assert "training worker (server.training.worker) could not start: No such file" in error
    frozen(monkeypatch, crashing_app)
    state, error = asyncio.run(run_one())
    assert state == "interrupted"
    assert "exited with code 3" in error and CRASH_LINE in error


def test_playback_says_which_worker_failed_and_why(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch, crashing_app: Path
) -> None:
    policy_dir = app_settings.data_dir / "policy"
    spec = JobSpec(scene_id="CartpoleBalance", program="WEIGHTS = {}\n")
    write_policy(policy_dir, manifest_for(spec, b"params", []), b"params")

    async def hello() -> None:
        service = InferenceService(app_settings)
        try:
            link = await service.open("p1", policy_dir)
            try:
                await asyncio.wait_for(link.hello(), 30)
            finally:
                link.close()
        finally:
            await service.close()

    frozen(monkeypatch, app_settings.data_dir / "no-such-robocoach")
    with pytest.raises(
        PlaybackUnavailable, match=rf"inference worker \({INFERENCE_WORKER}\) could not start"
    ):
        asyncio.run(hello())
    frozen(monkeypatch, crashing_app)
    with pytest.raises(PlaybackUnavailable, match="exited \\(code 3\\) before it was ready") as failed:
        asyncio.run(hello())
    assert CRASH_LINE in str(failed.value)
