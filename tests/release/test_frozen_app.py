"""The release check: the PyInstaller bundle's own executable opens its window under Xvfb, and a person's
whole loop works in that window: WebGL on, a scene drawn and simulating, a reward drafted with the built-in
drafter and validated, a quick training job that finishes with its clip, and its policy playing.

The window's page is driven through Qt WebEngine's remote debugging port (QTWEBENGINE_REMOTE_DEBUGGING) by
Playwright over CDP: the clicks and keystrokes reach the real window's page, not a separate browser.
Playwright's default CDP set-up asks for browser-context management, which Qt WebEngine refuses
("Browser context management is not supported"); `no_defaults=True` skips it (measured with Playwright 1.65
and Qt WebEngine 6.140 / Chromium 140).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.desktop.conftest import isolated_env, launch
from tests.desktop.test_window import UI_READY_TIMEOUT, assert_clean_exit, find_window, wait_for_client_report
from tests.e2e.conftest import RunningApp
from tests.e2e.test_task_panel import DRAFT_TIMEOUT_MS, VALID
from tests.e2e.test_training_ui import CLIP_TIMEOUT_MS, expect_decoded_image, train_one_job
from tests.e2e.test_viewer import assert_something_drawn, canvas_pixels, open_scene, sim_time

pytestmark = [pytest.mark.release, pytest.mark.desktop]

NAME = "Frozen quick cartpole"
# The quick preset (4096 steps, 2 evaluations): compiling PPO dominates, then the check's rollouts. The job
# runs at the lowest CPU priority: on shared cores (load 10) it took minutes; alone, about one.
JOB_TIMEOUT_MS = 900_000
PLAY_TIMEOUT_MS = 180_000
ENDED = re.compile(r"^(succeeded|failed|cancelled|interrupted)$")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_devtools(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"Qt WebEngine's remote debugging did not answer on port {port}")


def window_page(pages: list[Page], app_port: int) -> Page:
    ours = [page for page in pages if page.url.startswith(f"http://127.0.0.1:{app_port}/")]
    assert len(ours) == 1, [page.url for page in pages]
    return ours[0]


@pytest.mark.timeout(1800)  # includes a cold bundle build when the session fixture has not built it yet
def test_frozen_app_drafts_trains_and_plays(
    bundle: Path,
    xvfb_display: str,
    tmp_path: Path,
    home: Path,
    reap: list[subprocess.Popen[str]],
    scene_cache: Path,
) -> None:
    stderr_path = tmp_path / "stderr.txt"
    devtools = free_port()
    env = isolated_env(
        home,
        DISPLAY=xvfb_display,
        # The session's exported scenes (the frozen app reads the same cache key), so it exports none.
        ROBOCOACH_BUILD_SCENES="1",
        ROBOCOACH_CACHE_DIR=str(scene_cache),
        # No shipped bases, as in the other tests: the planner trains from scratch.
        ROBOCOACH_BASES_DIR=os.environ["ROBOCOACH_BASES_DIR"],
        QTWEBENGINE_REMOTE_DEBUGGING=f"127.0.0.1:{devtools}",
    )
    phases: list[tuple[str, float]] = []
    started = time.monotonic()

    def phase(name: str) -> None:
        phases.append((name, time.monotonic() - started))

    app = launch(
        ["--software-gl", "--data-dir", str(tmp_path / "data")],
        env,
        stderr_path,
        reap,
        timeout=UI_READY_TIMEOUT,
        command=[str(bundle / "robocoach")],
    )
    phase("URL line")
    client = wait_for_client_report(app, stderr_path)
    phase("first frame reported")
    assert client["webgl"] is True, client
    assert "QtWebEngine" in client["user_agent"], client  # the report came from the frozen window
    wait_for_devtools(devtools)

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{devtools}", no_defaults=True)
            page = window_page(browser.contexts[0].pages, app.port)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            as_running = RunningApp(url=app.url, process=app.process, output=app.stdout_lines)

            # A scene renders and simulates.
            canvas = open_scene(page, as_running, "Cartpole Balance", "CartpoleBalance")
            assert_something_drawn(canvas_pixels(canvas))
            at = sim_time(page)
            page.wait_for_timeout(1500)
            assert sim_time(page) > at + 0.5, "simulated time did not advance"
            phase("scene simulating")

            # A draft with the built-in drafter validates (the reward check runs in a frozen worker).
            page.get_by_role("textbox", name="Task").fill("Balance the pole upright")
            provider = page.get_by_role("combobox", name="Provider")
            expect(provider).to_be_enabled(timeout=30_000)
            provider.select_option("builtin")
            page.get_by_role("button", name="Draft reward").click()
            expect(page.get_by_role("status", name="Validation")).to_have_text(
                VALID, timeout=DRAFT_TIMEOUT_MS
            )
            expect(page.get_by_role("status", name="Check status")).to_have_text(VALID)
            phase("draft validated")

            train_one_job(page, NAME, preset="Quick test (seconds)")  # the smallest job the UI offers
            training = page.get_by_role("region", name="Training")
            state = training.get_by_role("status", name="Job state")
            expect(state).to_have_text(ENDED, timeout=JOB_TIMEOUT_MS)
            if state.inner_text() != "succeeded":
                alerts = training.get_by_role("alert").all_inner_texts()
                pytest.fail(
                    f"training ended {state.inner_text()}: {alerts}\n{stderr_path.read_text()[-4000:]}"
                )
            expect(training).to_contain_text("Saved to library")
            phase("job succeeded")
            # The kept policy's clip, rendered headless with EGL by the frozen training worker.
            expect_decoded_image(training.get_by_role("img", name=f"Clip of {NAME}"), CLIP_TIMEOUT_MS)

            # Its policy plays: from the library, as a person picks it.
            page.get_by_role("button", name="Library").click()
            library = page.get_by_role("region", name="Policy library")
            row = library.get_by_role("table", name="Policies").get_by_role("row").filter(has_text=NAME)
            expect(row).to_have_count(1, timeout=30_000)
            row.get_by_role("button", name="Play").click()
            playback = page.get_by_role("region", name="Policy playback")
            status = playback.get_by_role("status", name="Playback status")
            expect(status).to_have_text(re.compile("Playing"), timeout=PLAY_TIMEOUT_MS)
            step = page.get_by_label("Episode step", exact=True)
            first = int(step.inner_text())
            page.wait_for_timeout(2000)
            assert int(step.inner_text()) > first, "the policy's episode does not advance"
            expect(playback.get_by_role("alert")).to_have_count(0)
            phase("policy playing")
            assert not errors, f"uncaught errors in the page: {errors}"
    finally:
        print("frozen app:", ", ".join(f"{name} {at:.1f} s" for name, at in phases))

    # The person closes the window with its shortcut; the app exits cleanly.
    window = find_window(xvfb_display)
    subprocess.run(
        ["xdotool", "windowfocus", "--sync", window, "key", "ctrl+q"],
        env={"DISPLAY": xvfb_display},
        check=True,
    )
    assert_clean_exit(app, stderr_path)
