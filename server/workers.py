"""How the app starts one of its own worker processes, from source or from the frozen (PyInstaller) app.

From source a worker is `python -m MODULE ARGS...`; a frozen app has no `python`, so there it is the app's
own executable, `robocoach --worker MODULE ARGS...`, which `desktop/cli.py` dispatches to the module's
`__main__` before anything else runs. Either way the caller passes the argv to a subprocess call of its own,
with its own scrubbed environment (server/sandbox/environment.py) and confinement, unchanged.

Only the modules in `WORKER_MODULES` can be started this way (the frozen dispatch refuses any other name,
so `--worker` never runs an arbitrary module). From source, test doubles under `tests.` may stand in for
them (the services take a `worker_module=` for that); a frozen app has no tests to run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRACE_WORKER = "server.rewards.trace_worker"
TRAINING_WORKER = "server.training.worker"
INFERENCE_WORKER = "server.inference.worker"
DEVICE_PROBE = "server.training.probe"

# The app's workers, with their names in messages for people.
WORKER_NAMES: dict[str, str] = {
    TRACE_WORKER: "reward trace worker",
    TRAINING_WORKER: "training worker",
    INFERENCE_WORKER: "inference worker",
    DEVICE_PROBE: "GPU probe",
}
WORKER_MODULES: frozenset[str] = frozenset(WORKER_NAMES)
WORKER_FLAG = "--worker"
_TEST_DOUBLES = "tests."


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def worker_argv(module: str, *args: str) -> list[str]:
    """The command line that runs `module` as a worker process of this app. ValueError for a module that
    is not one of the app's workers (or, from source only, a test double under `tests.`)."""
    frozen = is_frozen()
    if module not in WORKER_MODULES and (frozen or not module.startswith(_TEST_DOUBLES)):
        raise ValueError(f"{module!r} is not one of Robocoach's worker modules: {sorted(WORKER_MODULES)}")
    if frozen:
        return [sys.executable, WORKER_FLAG, module, *args]
    return [sys.executable, "-m", module, *args]


def worker_name(module: str) -> str:
    """The worker's name in messages for people: 'the reward trace worker (server.rewards.trace_worker)'."""
    return f"the {WORKER_NAMES.get(module, 'worker')} ({module})"


class WorkerStartError(RuntimeError):
    """A worker process could not be started at all (no executable, not allowed to run it, ...)."""

    def __init__(self, module: str, exc: OSError) -> None:
        where = f": {exc.filename}" if exc.filename else ""
        super().__init__(f"{worker_name(module)} could not start: {exc.strerror or exc}{where}")
        self.module = module


async def spawn_worker(module: str, *args: str, **options: Any) -> asyncio.subprocess.Process:
    """Starts `module` as a worker process (`worker_argv`), with the caller's subprocess options (pipes,
    environment, working folder). A worker that cannot start at all raises WorkerStartError, logged."""
    try:
        return await asyncio.create_subprocess_exec(*worker_argv(module, *args), **options)
    except OSError as exc:
        error = WorkerStartError(module, exc)
        log.error("%s", error)
        raise error from exc


def yield_cpu() -> None:
    """The lowest CPU priority for this worker process: nice 19, and SCHED_IDLE where the OS has it (a
    normal task that wakes up preempts it at once, where a nice-19 task could still finish its slice
    first). Both are per thread on Linux and inherited by new threads, so call it before JAX starts any.
    For background work nobody waits on: training, and the scene exports of a first launch."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    except OSError as exc:
        print(f"could not lower this worker's priority: {exc}", file=sys.stderr)
    if hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError as exc:
            print(f"could not make this worker SCHED_IDLE: {exc}", file=sys.stderr)


def last_error_line(log_path: Path, limit: int = 64 * 1024) -> str:
    """The last non-empty line of a worker's log (its stderr): after a crash at start-up, the exception."""
    try:
        with log_path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - limit))
            tail = file.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""
