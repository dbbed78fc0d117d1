"""The Modal app that trains on serverless H100s: its image (exactly the versions in uv.lock), its Volume
and its one function. Importing this module imports `modal`: only the Modal backend (when a job runs on
Modal) and `server.training.modal_check` do; the API process never imports it at start.

`image_requirements()` reads uv.lock (no network, no uv binary): the closure of the training stack's
dependencies plus the `cuda` extra, as `name==version` pins for the Linux x86_64 / CPython 3.11 image.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from packaging.markers import Marker

from server.training.remote import GPU, VOLUME_MOUNT, run_remote_job

APP_NAME = "robocoach-training"
FUNCTION_NAME = "train_job"
VOLUME_NAME = "robocoach-training"
LOCK_FILE = Path(__file__).resolve().parents[2] / "uv.lock"
PROJECT = "robocoach"
# Roots of the image: the project's dependencies minus what only the desktop app and the API use.
NOT_REMOTE = frozenset({"pywebview", "pyside6", "qtpy", "ollama", "anthropic", "openai", "modal", "uvicorn",
                        "litestar", "websockets"})  # fmt: skip
EXTRAS = ("cuda",)
_MARKER_ENV = {
    "python_version": "3.11", "python_full_version": "3.11.11", "sys_platform": "linux",
    "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
    "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": "",
}  # fmt: skip


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _applies(dep: dict[str, Any]) -> bool:
    marker = dep.get("marker")
    return marker is None or Marker(marker).evaluate(dict(_MARKER_ENV))


def image_requirements(lock_file: Path = LOCK_FILE) -> list[str]:
    """Sorted `name==version` pins: the lock's closure of the remote roots (with their locked extras)."""
    lock = tomllib.loads(lock_file.read_text())
    packages = {_norm(p["name"]): p for p in lock["package"]}
    project = packages[PROJECT]
    roots = [d for d in project.get("dependencies", []) if _norm(d["name"]) not in NOT_REMOTE]
    for extra in EXTRAS:
        roots += project.get("optional-dependencies", {}).get(extra, [])
    seen: set[str] = set()
    todo = [d for d in roots if _applies(d)]
    while todo:
        dep = todo.pop()
        name = _norm(dep["name"])
        package = packages[name]
        wanted = list(package.get("dependencies", []))
        for extra in dep.get("extra", []):
            wanted += package.get("optional-dependencies", {}).get(extra, [])
        if name in seen and not dep.get("extra"):
            continue
        seen.add(name)
        todo += [d for d in wanted if _applies(d) and (_norm(d["name"]) not in seen or d.get("extra"))]
    return sorted(f"{packages[n]['name']}=={packages[n]['version']}" for n in seen)


def build_image(requirements: list[str] | None = None) -> Any:
    import modal

    pins = image_requirements() if requirements is None else requirements
    return (
        modal.Image.debian_slim(python_version="3.11")
        # Mesa's EGL, for the policy's clip (server/policies/clip.py), as scripts/setup.sh installs locally.
        .apt_install("libegl1", "libegl-mesa0", "libgl1-mesa-dri")
        .uv_pip_install(*pins)
        # The whole card is this job's on Modal; the compile cache lives on the Volume.
        .env({"XLA_PYTHON_CLIENT_PREALLOCATE": "false"})
        .add_local_python_source("server")
    )


def train_job(payload: bytes) -> bytes:
    """The function body on Modal: model-written reward code runs here, with no secrets and no access to
    other Modal resources; the Volume (mounted at VOLUME_MOUNT) is its only way out, besides its return."""
    from server.sandbox.environment import scrub_environment

    # Only the environment allow-list here: confine()'s network namespace and Landlock would also cut
    # off Modal's own client, which runs in this process; Modal's container is the wall on that side.
    scrub_environment()
    return run_remote_job(payload, Path(VOLUME_MOUNT))


def build_app(*, timeout_s: int, retries: int, max_containers: int, image: Any = None) -> tuple[Any, Any]:
    """(app, function), defined offline: nothing here contacts Modal until the app is deployed or run."""
    import modal

    app = modal.App(APP_NAME)
    volume = modal.Volume.from_name(VOLUME_NAME, create_if_missing=True)
    function = app.function(
        name=FUNCTION_NAME,
        image=image if image is not None else build_image(),
        gpu=GPU,
        volumes={VOLUME_MOUNT: volume},
        timeout=timeout_s,
        retries=modal.Retries(max_retries=retries, backoff_coefficient=2.0, initial_delay=10.0)
        if retries
        else 0,
        restrict_modal_access=True,  # model-written code: no Queues, Dicts, other Functions or Modal APIs
        single_use_containers=True,  # one job per container: nothing of one user program meets another's
        secrets=[],
        max_containers=max_containers,
        serialized=True,
    )(train_job)
    return app, function
