"""A real `robocoach serve` process and a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROBOCOACH = Path(sys.executable).parent / "robocoach"
URL_LINE = re.compile(r"Robocoach is running at (http://\S+)")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Measured on these machines: no sandbox as root, SwiftShader WebGL, and no background networking
# (a closed network refuses it loudly).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class RunningApp:
    url: str  # the page URL, token included, as printed
    process: subprocess.Popen[str]
    output: list[str]

    @property
    def base(self) -> str:
        return self.url.split("/?", 1)[0]

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]


def start_app(
    data_dir: Path, cache_dir: Path, *extra: str, timeout: float = 120, env: dict[str, str] | None = None
) -> RunningApp:
    env = {**os.environ, "ROBOCOACH_CACHE_DIR": str(cache_dir), **(env or {})}
    env.pop("DISPLAY", None)
    process = subprocess.Popen(
        [str(ROBOCOACH), "serve", "--port", "0", "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = URL_LINE.search(line)
            if match and not url:
                url.append(match.group(1))
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(timeout):
        process.kill()
        raise AssertionError("robocoach serve printed no URL:\n" + "".join(output))
    return RunningApp(url=url[0], process=process, output=output)


def stop_app(app: RunningApp) -> int:
    app.process.send_signal(signal.SIGTERM)
    return app.process.wait(timeout=30)


@pytest.fixture(scope="session")
def served_app(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> Iterator[RunningApp]:
    app = start_app(tmp_path_factory.mktemp("e2e-data"), scene_cache)
    yield app
    assert stop_app(app) == 0, "".join(app.output)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is open,
    which would break later tests that call asyncio.run."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
