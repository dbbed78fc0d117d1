"""Typed settings for one launch: where data lives, where to listen, and the per-launch token."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec
import platformdirs

APP_NAME = "robocoach"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Where `npm run build` puts the UI; a frozen build sets ROBOCOACH_UI_DIST instead.
DEFAULT_UI_DIST = Path(__file__).resolve().parent.parent / "ui" / "dist"
# Base policies shipped with the app, one folder per scene (scripts/build_bases.py writes them); packaged
# with the rest of scenes/ (packaging/robocoach.spec).
SHIPPED_BASES_DIR = Path(__file__).resolve().parent.parent / "scenes" / "bases"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    port: int  # 0 until the launcher has bound a socket; the Host check needs the real port
    data_dir: Path  # the SQLite database and, later, trained policies
    state_dir: Path  # logs
    cache_dir: Path  # scene models exported from Playground; safe to delete
    token: str  # required on every /api request and WebSocket
    allow_remote: bool = False
    ui_dist: Path = DEFAULT_UI_DIST
    build_scenes_on_start: bool = True  # verify every Playground env in the background at start-up
    bases_dir: Path = SHIPPED_BASES_DIR  # the shipped base policies (read-only)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "robocoach.sqlite3"

    @property
    def origin_hosts(self) -> frozenset[str]:
        """`host:port` values a request's Host (and Origin) may carry: DNS-rebinding defence."""
        names = set(LOOPBACK_HOSTS) | {self.host}
        return frozenset(f"[{n}]:{self.port}" if ":" in n else f"{n}:{self.port}" for n in names)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def load_settings(
    *,
    data_dir: Path | None = None,
    host: str | None = None,
    port: int | None = None,
    allow_remote: bool = False,
    token: str | None = None,
) -> Settings:
    """Builds settings from, in priority order: arguments (CLI flags), ROBOCOACH_* env vars, defaults.

    `--data-dir` moves everything (data, logs, cache) under one folder, which keeps tests and portable
    installs self-contained; otherwise each lives where platformdirs says it belongs on this OS.
    """
    root = data_dir or _env_path("ROBOCOACH_DATA_DIR")
    if root is not None:
        root = root.resolve()
        paths = (root, root / "logs", root / "cache")
    else:
        paths = (
            Path(platformdirs.user_data_dir(APP_NAME)),
            Path(platformdirs.user_state_dir(APP_NAME)),
            Path(platformdirs.user_cache_dir(APP_NAME)),
        )
    cache_dir = _env_path("ROBOCOACH_CACHE_DIR") or paths[2]
    for path in (paths[0], paths[1], cache_dir):
        path.mkdir(parents=True, exist_ok=True)
    env_port = os.environ.get("ROBOCOACH_PORT")
    return Settings(
        host=host or os.environ.get("ROBOCOACH_HOST") or "127.0.0.1",
        port=port if port is not None else int(env_port) if env_port else 0,
        data_dir=paths[0],
        state_dir=paths[1],
        cache_dir=cache_dir,
        token=token or secrets.token_urlsafe(32),
        allow_remote=allow_remote,
        ui_dist=_env_path("ROBOCOACH_UI_DIST") or DEFAULT_UI_DIST,
        bases_dir=_env_path("ROBOCOACH_BASES_DIR") or SHIPPED_BASES_DIR,
        build_scenes_on_start=os.environ.get("ROBOCOACH_BUILD_SCENES", "1") != "0",
    )
