"""Where a training job runs. The manager owns the queue, the job store and each job's folder; a backend
only starts one run of a job and hands back a `RunHandle`. Every backend runs the same training function
(`server.training.worker.run`, around `runner.train`) on the same `Job` (job.json) and leaves the same
things in the job's folder: progress and a final event in events.jsonl, and the policy in `policy/`.

- `local`: a worker process on this computer, on its GPU when JAX sees one (one job per device).
- `modal`: a Modal function call on a serverless H100 (`server.training.modal_backend`), many at once.

Device detection never imports JAX in the API process: `probe_device()` asks a short-lived subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from pathlib import Path
from typing import Protocol

import msgspec

from server.policies.checkpoints import CHECKPOINT_FILES, has_checkpoint
from server.sandbox.environment import worker_env
from server.training.types import BackendName, Device
from server.workers import DEVICE_PROBE, TRAINING_WORKER, WorkerStartError, last_error_line, spawn_worker

log = logging.getLogger(__name__)


class RunHandle(Protocol):
    """One run of one job. `wait()` gives an exit code: 0 after a "succeeded" event, 1 after "failed",
    anything else when the run ended without one (the manager marks the job interrupted, citing
    `exit_cause`)."""

    @property
    def pid(self) -> int | None: ...

    async def wait(self) -> int: ...

    def cancel(self) -> None:
        """The user cancelled: stop the run for good."""

    def detach(self) -> None:
        """The server is stopping: a local run is killed (it resumes from its checkpoint); a remote one
        keeps running and is reattached on the next launch."""

    def exit_cause(self, returncode: int) -> str: ...


class TrainingBackend(Protocol):
    name: BackendName
    capacity: int  # runs at once
    device: Device  # what the training function sees ("gpu" for Modal)
    work_files: tuple[str, ...]  # files of a previous attempt, removed before a fresh (not resumed) run

    async def launch(self, job_id: str, job_dir: Path, *, resume: bool) -> RunHandle: ...

    def resumable(self, job_dir: Path) -> bool:
        """Whether an interrupted run can continue rather than start over."""


class DeviceReport(msgspec.Struct, frozen=True, kw_only=True):
    device: Device
    name: str  # e.g. "NVIDIA H100 80GB HBM3" or "CPU"
    reason: str  # why this device, in a sentence for the settings page
    probed: bool  # false: JAX has not been asked yet (only the driver files were looked at)


def driver_present() -> bool:
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/version").exists()


def detect_device() -> Device:
    """ "gpu" when an NVIDIA driver is present; checked without importing JAX (the API never does)."""
    return "gpu" if driver_present() else "cpu"


def describe_probe(driver: bool, gpu_names: list[str] | None, error: str | None) -> DeviceReport:
    """The settings page's sentence from what was found (pure, so every case is testable on a CPU)."""
    if gpu_names:
        listed = ", ".join(sorted(set(gpu_names)))
        return DeviceReport(
            device="gpu",
            name=gpu_names[0],
            reason=f"JAX sees {len(gpu_names)} CUDA device(s) ({listed}); jobs train on the first one, "
            "with Playground's GPU configs",
            probed=True,
        )
    if not driver:
        return DeviceReport(
            device="cpu", name="CPU", reason="no NVIDIA driver on this computer, so jobs train on the CPU",
            probed=gpu_names is not None,
        )  # fmt: skip
    if gpu_names is None:
        why = f" ({error})" if error else ""
        return DeviceReport(
            device="cpu", name="CPU",
            reason=f"an NVIDIA driver is present but JAX could not be asked about CUDA devices{why}",
            probed=False,
        )  # fmt: skip
    return DeviceReport(
        device="cpu",
        name="CPU",
        reason="an NVIDIA driver is present but JAX sees no CUDA device: install JAX's CUDA plugin "
        "(`uv sync --extra cuda`) and restart",
        probed=True,
    )


async def probe_device(timeout_s: float = 60.0) -> DeviceReport:
    """Asks JAX, in a worker process (server/training/probe.py), which CUDA devices it sees (skipped when
    there is no NVIDIA driver)."""
    driver = driver_present()
    if not driver:
        return describe_probe(False, [], None)
    env = worker_env("gpu")
    try:
        process = await spawn_worker(
            DEVICE_PROBE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except (WorkerStartError, TimeoutError) as exc:
        return describe_probe(True, None, f"{type(exc).__name__}: {exc}")
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        return describe_probe(True, None, lines[-1] if lines else f"exit code {process.returncode}")
    try:
        names = [str(n) for n in json.loads(out.decode().strip().splitlines()[-1])]
    except (ValueError, IndexError) as exc:
        return describe_probe(True, None, f"unreadable answer: {exc}")
    return describe_probe(True, names, None)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (out of memory?)" if returncode == -signal.SIGKILL else ""
        return f"the training process was killed by {name}{hint}"
    return f"the training process exited with code {returncode} without reporting a result"


class _ProcessRun:
    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int | None:
        return self.process.pid

    async def wait(self) -> int:
        return await self.process.wait()

    def cancel(self) -> None:  # the worker ignores SIGTERM by contract; it has nothing to save
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def detach(self) -> None:
        self.cancel()

    def exit_cause(self, returncode: int) -> str:
        cause = describe_exit(returncode)
        if returncode > 0:  # e.g. it could not even import its modules: its last words say why
            last = last_error_line(self.log_path)
            cause = f"{cause} ({last})" if last else cause
        log.warning("training worker %s: %s (log: %s)", self.pid, cause, self.log_path)
        return cause


class LocalBackend:
    """Worker processes on this computer: `python -m server.training.worker JOB_DIR` (or the frozen app's
    `robocoach --worker ...`: server/workers.py), one per device."""

    name: BackendName = "local"
    work_files: tuple[str, ...] = ("events.jsonl", *CHECKPOINT_FILES)

    def __init__(self, device: Device, *, worker_module: str = TRAINING_WORKER, capacity: int = 1) -> None:
        self.device: Device = device
        self.worker_module = worker_module  # a test double's, from source (server/workers.py)
        self.capacity = capacity

    def env(self) -> dict[str, str]:
        return worker_env("cpu" if self.device == "cpu" else "gpu")

    def resumable(self, job_dir: Path) -> bool:
        return has_checkpoint(job_dir)

    async def launch(self, job_id: str, job_dir: Path, *, resume: bool) -> RunHandle:
        del job_id, resume  # both are in job.json
        with (job_dir / "worker.log").open("ab") as log_file:
            process = await spawn_worker(
                self.worker_module,
                str(job_dir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=self.env(),
                cwd=str(job_dir),
            )
        return _ProcessRun(process, job_dir / "worker.log")
