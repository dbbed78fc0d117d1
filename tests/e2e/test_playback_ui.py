"""Live playback in real headless Chromium against a real `robocoach serve`: open the library, press Play on
the CartpoleBalance base policy the app ships (scenes/bases/, built and verified by scripts/build_bases.py),
and read from the page that the pole stays up for a whole episode while the policy drives MuJoCo
(WebAssembly) in the page. Training through the UI, with its live preview, has its own test
(test_training_ui.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from server.settings import SHIPPED_BASES_DIR
from tests.e2e.conftest import RunningApp, start_app, stop_app

pytestmark = pytest.mark.e2e

EPISODE_STEPS = 1000  # CartpoleBalance's episode length
# Playground's own cartpole reward (upright x centred x small control x small velocity) per step: a pole
# past horizontal scores at most 0.5, a balanced one about 0.8 or more.
SCENE_REWARD_AT_LEAST = 0.6
EPISODE_TIMEOUT_S = 400


@pytest.fixture(scope="module")
def playback_app(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> Iterator[RunningApp]:
    """An app of its own that sees the bases the repository ships (other tests see none)."""
    env = {"ROBOCOACH_BASES_DIR": str(SHIPPED_BASES_DIR)}
    app = start_app(tmp_path_factory.mktemp("playback-data"), scene_cache, env=env)
    yield app
    assert stop_app(app) == 0, "".join(app.output)


def number(page: Page, label: str) -> float:
    return float(page.get_by_label(label, exact=True).inner_text())


def test_the_shipped_base_keeps_the_pole_up_for_an_episode(page: Page, playback_app: RunningApp) -> None:
    page.goto(playback_app.url)
    page.get_by_role("button", name="Library").click()
    library = page.get_by_role("region", name="Policy library")
    shipped = (
        library.get_by_role("table", name="Policies").get_by_role("row").filter(has_text="Base · shipped")
    )
    # Every base the repository ships is listed as one; this test plays the cart-pole's.
    folders = [p for p in SHIPPED_BASES_DIR.iterdir() if (p / "manifest.json").is_file()]
    expect(shipped).to_have_count(len(folders), timeout=60_000)
    row = shipped.filter(has_text="Cartpole Balance")
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Play").click()

    playback = page.get_by_role("region", name="Policy playback")
    status = playback.get_by_role("status", name="Playback status")
    expect(status).to_have_text(re.compile("Playing"), timeout=180_000)
    expect(page.locator(".viewport[data-scene-id=CartpoleBalance]")).to_be_visible()

    lowest, last_step, started = 1.0, 0, time.monotonic()
    while last_step < EPISODE_STEPS - 5:
        assert time.monotonic() - started < EPISODE_TIMEOUT_S, f"only {last_step} steps played"
        step = int(number(page, "Episode step"))
        if step < last_step:  # a new episode began: the last one ended early (the env's `done`)
            break
        last_step = step
        if step > 0:
            lowest = min(lowest, number(page, "Scene reward"))
        page.wait_for_timeout(100)
    assert last_step >= EPISODE_STEPS - 5, f"the episode ended after {last_step} steps"
    assert lowest >= SCENE_REWARD_AT_LEAST, f"the pole fell: the scene's reward went down to {lowest:.3f}"
    latency = page.get_by_label("Round-trip latency", exact=True).inner_text()
    assert re.search(r"\d", latency), latency
