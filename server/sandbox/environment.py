"""The environment a worker process gets: an allow-list, never the server's own environment.

API keys, the per-launch token and cloud credentials live in the server's environment; a worker starts
with only the variables below (built here, in the parent) and scrubs its own environment again on
start (`scrub_environment`), so a worker started some other way holds no secret either.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

Device = Literal["cpu", "gpu"]

SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent
ENV_ALLOW = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "XDG_CACHE_HOME", "VIRTUAL_ENV")
SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL|AUTH", re.IGNORECASE)
# Kept from the server's environment for a GPU worker: they select and configure the accelerator.
DEVICE_VARS = ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "XLA_FLAGS", "ROBOCOACH_MJX_IMPL")
# A GPU training worker shares the card with playback and other jobs instead of reserving 75% of it.
GPU_MEMORY_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.6"}
PARENT_ENV = "ROBOCOACH_SANDBOX_PARENT"  # the server's pid: a worker that outlives it exits at once
TEST_HOOKS_ENV = "ROBOCOACH_REWARD_WORKER_TEST_HOOKS"  # set only by tests: enables probe requests
# Every name worker_env may pass on; scrub_environment keeps exactly these.
WORKER_VARS = frozenset(
    {*ENV_ALLOW, *DEVICE_VARS, *GPU_MEMORY_ENV, "PYTHONPATH", "PYTHONUNBUFFERED", "JAX_PLATFORMS"}
    | {PARENT_ENV, TEST_HOOKS_ENV}
)


def worker_env(device: Device = "cpu", *, test_hooks: bool = False) -> dict[str, str]:
    """The whole environment of a worker that may run model-written code (or load a policy)."""
    env = {k: v for k, v in os.environ.items() if k in ENV_ALLOW and not SECRET.search(k)}
    env |= {
        "PYTHONPATH": str(SOURCE_ROOT),
        "PYTHONUNBUFFERED": "1",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
        PARENT_ENV: str(os.getpid()),
    }
    if device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"  # never grab an accelerator that training may need
    else:
        env |= GPU_MEMORY_ENV
    env |= {key: os.environ[key] for key in DEVICE_VARS if key in os.environ}
    if test_hooks:
        env[TEST_HOOKS_ENV] = "1"
    assert env.keys() <= WORKER_VARS, "worker_env sets a variable scrub_environment would drop"
    return env


def scrub_environment() -> None:
    """In a worker: keep only what `worker_env` would have passed (whatever started the process)."""
    clean = {k: v for k, v in os.environ.items() if k in WORKER_VARS and not SECRET.search(k)}
    os.environ.clear()
    os.environ.update(clean)
