"""Liveness and facts about this server, for the UI's status bar and for support."""

from __future__ import annotations

import functools
from importlib import metadata

import msgspec
from litestar import get


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    version: str
    mujoco_version: str  # the browser must load the same version to read the server's MJB models


@functools.cache  # installed versions cannot change while the server runs; a metadata scan is not free
def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


@get("/api/health", sync_to_thread=False)
def health() -> Health:
    return Health(status="ok", version=_version("robocoach"), mujoco_version=_version("mujoco"))
