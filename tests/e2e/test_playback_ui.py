"""Live playback in real headless Chromium against a real `robocoach serve`: draft a Cartpole reward with
the built-in drafter, train it (the CPU preset, a small budget), press play, and read from the page that
the pole stays up for a whole episode while the policy drives MuJoCo (WebAssembly) in the page."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningApp, start_app, stop_app
from tests.e2e.test_task_panel import draft_reward

pytestmark = pytest.mark.e2e

TIMESTEPS = 1_200_000  # enough for the CPU preset to balance Cartpole (docs/BENCHMARKS.md)
TRAIN_TIMEOUT_MS = 420_000
EPISODE_STEPS = 1000  # CartpoleBalance's episode length
UPRIGHT_AT_LEAST = 0.9  # the drafted `upright` term is (1 + cos(angle)) / 2: 0.9 is within 37 degrees
EPISODE_TIMEOUT_S = 400


@pytest.fixture(scope="module")
def playback_app(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> Iterator[RunningApp]:
    """An app of its own: the job trained here must not be the latest job other e2e tests see."""
    app = start_app(tmp_path_factory.mktemp("playback-data"), scene_cache)
    yield app
    assert stop_app(app) == 0, "".join(app.output)


def number(page: Page, label: str) -> float:
    return float(page.get_by_label(label, exact=True).inner_text())


def test_trained_policy_keeps_the_pole_up_for_an_episode(page: Page, playback_app: RunningApp) -> None:
    draft_reward(page, playback_app, "Cartpole Balance", "CartpoleBalance", "Balance the pole upright")
    page.get_by_role("combobox", name="Preset").select_option(label="CPU (minutes)")
    page.get_by_label("Timesteps").fill(str(TIMESTEPS))
    page.get_by_role("button", name="Train policy").click()

    training = page.get_by_role("region", name="Training")
    state = training.get_by_role("status", name="Job state")
    expect(state).to_have_text(
        re.compile(r"^(succeeded|failed|cancelled|interrupted)$"), timeout=TRAIN_TIMEOUT_MS
    )
    assert state.inner_text() == "succeeded", training.get_by_role("alert").all_inner_texts()

    training.get_by_role("link", name="Play policy").click()
    playback = page.get_by_role("region", name="Policy playback")
    status = playback.get_by_role("status", name="Playback status")
    expect(status).to_have_text(re.compile("Playing"), timeout=180_000)
    expect(page.locator(".viewport[data-scene-id=CartpoleBalance]")).to_be_visible()

    upright = playback.get_by_role("table", name="Live reward").get_by_role(
        "row", name=re.compile("^upright")
    )
    lowest, last_step, started = 1.0, 0, time.monotonic()
    while last_step < EPISODE_STEPS - 5:
        assert time.monotonic() - started < EPISODE_TIMEOUT_S, f"only {last_step} steps played"
        step = int(number(page, "Episode step"))
        if step < last_step:  # a new episode began: the last one ended early (the env's `done`)
            break
        last_step = step
        if step > 0:
            lowest = min(lowest, float(upright.get_by_role("cell").first.inner_text()))
        page.wait_for_timeout(100)
    assert last_step >= EPISODE_STEPS - 5, f"the episode ended after {last_step} steps"
    assert lowest >= UPRIGHT_AT_LEAST, f"the pole fell: upright went down to {lowest:.3f}"
    assert number(page, "Episode return") > 0.5 * EPISODE_STEPS  # upright ~1 per step, small penalties
    latency = page.get_by_label("Round-trip latency", exact=True).inner_text()
    assert re.search(r"\d", latency), latency
