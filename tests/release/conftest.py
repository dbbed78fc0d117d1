"""The frozen app: the PyInstaller one-folder bundle, built (or found up to date) by scripts/build_bundle.sh
once per session. The desktop tests' Xvfb display and process reaper are shared."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.desktop.conftest import home, reap, xvfb_display  # noqa: F401 - fixtures for this folder

ROOT = Path(__file__).resolve().parents[2]
# A cold build measured 3-6 minutes on 2 cores; allow for a busy machine.
BUILD_TIMEOUT_S = 1800


@pytest.fixture(scope="session")
def bundle(scene_cache: Path) -> Path:
    """The bundle's folder (holding the `robocoach` executable). A cold run builds it; a run with the same
    inputs (uv.lock, the spec, server/, desktop/, scenes/, ui/dist) reuses the cached one. The session's
    scene cache lends its exported scenes to the bundle's scene pack. ROBOCOACH_RELEASE_BUNDLE names an
    already built bundle folder to test instead (a release artifact, or a build of a moment ago)."""
    given = os.environ.get("ROBOCOACH_RELEASE_BUNDLE")
    if given:
        return Path(given)
    if not (Path(sys.executable).parent / "pyinstaller").exists():
        pytest.fail(
            "PyInstaller is not installed: `scripts/setup.sh test` installs it (uv sync --group packaging)"
        )
    started = time.monotonic()
    result = subprocess.run(
        [str(ROOT / "scripts" / "build_bundle.sh")],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
        env={**os.environ, "ROBOCOACH_TEST_SCENE_CACHE": str(scene_cache)},
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/build_bundle.sh failed ({result.returncode}):\n{result.stderr[-6000:]}")
    folder = Path(result.stdout.strip().splitlines()[-1])
    summary = (
        re.sub(r"\x1b\[[0-9;]*m", "", result.stderr.strip().splitlines()[-1]) if result.stderr.strip() else ""
    )
    print(f"\nbundle ready after {time.monotonic() - started:.0f} s: {summary}")
    assert (folder / "robocoach").is_file(), folder
    return folder
