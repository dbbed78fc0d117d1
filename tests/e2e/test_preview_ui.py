"""Watching a policy learn, in real headless Chromium against a real `robocoach serve` (issue #12).

Draft Cartpole Balance with the built-in drafter, train a real CPU job with several evaluations, and watch its
live preview in the viewer: it starts (the step label after the preview's Hello), its label changes at least
twice as newer evaluations' params are swapped in, and when the job ends the panel says so and offers the kept
policy. The finished policy's clip shows under the job and in the library (a decoded image, not a broken one).
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import RunningApp
from tests.e2e.test_task_panel import draft_reward

pytestmark = pytest.mark.e2e

NAME = "Previewed cartpole"
# The CPU preset's 10 evaluations. The preview worker compiles its policy at normal priority while the job
# (which yields the CPU) compiles PPO, so it is up long before the first evaluation.
TIMESTEPS = "400000"
# The job compiles PPO and the check's rollouts at the lowest priority, beside the preview, on 2 shared cores.
JOB_TIMEOUT_S = 900
PREVIEW_START_TIMEOUT_MS = 240_000
CLIP_TIMEOUT_MS = 120_000
STEP_LABEL = re.compile(r"^Live preview · step [\d.]+[kMG]? of [\d.]+[kMG]? · ")
ENDED_STATES = ("succeeded", "failed", "cancelled", "interrupted")


def expect_decoded_image(image: Locator, timeout_ms: int) -> None:
    """The <img> is shown and its bytes decoded as an image (a 404 or a token refusal would not be)."""
    expect(image).to_be_visible(timeout=timeout_ms)
    image.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") > 0


@pytest.mark.timeout(1800)  # a real job with 10 judged evaluations, yielding the CPU to everything else
def test_watch_the_policy_learn_then_see_its_clip(page: Page, served_app: RunningApp) -> None:
    draft_reward(page, served_app, "Cartpole Balance", "CartpoleBalance", "Balance the pole upright")

    page.get_by_role("combobox", name="Preset").select_option(label="CPU (minutes)")
    page.get_by_role("spinbutton", name="Timesteps").fill(TIMESTEPS)
    # One job that runs its whole budget: no reflection round, no early stop once the check passes.
    page.get_by_role("spinbutton", name="Reflection rounds").fill("0")
    page.get_by_role("spinbutton", name="Stop after passing evaluations").fill("0")
    page.get_by_role("textbox", name="Name for the policy").fill(NAME)
    page.get_by_role("button", name="Train policy").click()

    training = page.get_by_role("region", name="Training")
    state = training.get_by_role("status", name="Job state")
    expect(state).to_have_text(re.compile(r"^(queued|running)$"), timeout=30_000)
    # Pressing Train starts the preview in the viewer; the training panel's toggle says so.
    expect(training.get_by_role("checkbox", name="Live preview")).to_be_checked()
    playback = page.get_by_role("region", name="Policy playback")
    expect(playback).to_be_visible()
    expect(page.get_by_text("Previewing training")).to_be_visible()
    label = playback.get_by_role("status", name="Preview policy")
    # The preview has started: its Hello came, and the PolicyUpdate right after it names the params.
    expect(label).to_have_text(STEP_LABEL, timeout=PREVIEW_START_TIMEOUT_MS)

    # Newer evaluations' params are swapped in while the job trains: the label changes.
    seen = [label.inner_text()]
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        text = label.inner_text()
        if text != seen[-1]:
            assert STEP_LABEL.match(text), text
            seen.append(text)
        if state.inner_text() in ENDED_STATES:
            break
        page.wait_for_timeout(200)
    progress = training.get_by_role("progressbar", name="Training progress").get_attribute("aria-valuenow")
    assert state.inner_text() in ENDED_STATES, (
        f"the job did not end in {JOB_TIMEOUT_S} s ({progress}%): {seen}"
    )
    if state.inner_text() != "succeeded":
        errors = training.get_by_role("alert").all_inner_texts()
        pytest.fail(f"training ended {state.inner_text()}: {errors}")
    # The job's end may come with a last swap: give the preview a moment to hear it.
    expect(playback.get_by_role("status", name="Preview ended")).to_be_visible(timeout=30_000)
    final = label.inner_text()
    if final != seen[-1]:
        seen.append(final)
    print("preview labels seen:", *seen, sep="\n  ")
    assert len(seen) >= 3, f"the preview's label changed fewer than twice: {seen}"
    assert any(re.search(r"· evaluation [1-9]\d* · reward ", text) for text in seen), seen

    # The job's end: how it ended, and its kept policy to play; the preview's own Stop is still there.
    expect(playback.get_by_role("status", name="Playback status")).to_have_text("Training ended")
    ended = playback.get_by_role("status", name="Preview ended")
    expect(ended).to_contain_text(re.compile(r"succeeded|finished", re.IGNORECASE))
    expect(ended.get_by_role("button", name="Play kept policy")).to_be_enabled()
    expect(playback.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    expect(playback.get_by_role("alert")).to_have_count(0)
    # The toggle is for a running job only.
    expect(training.get_by_role("checkbox", name="Live preview")).to_have_count(0)

    # The kept policy's clip under the finished job (rendered when the policy was saved)...
    expect_decoded_image(training.get_by_role("img", name=f"Clip of {NAME}"), CLIP_TIMEOUT_MS)
    # ... and in the library, fetched with the token like every API call.
    page.get_by_role("button", name="Library").click()
    library = page.get_by_role("region", name="Policy library")
    row = library.locator("tbody tr").filter(has=page.get_by_role("button", name=NAME))
    expect(row).to_have_count(1, timeout=30_000)
    expect_decoded_image(row.get_by_role("img", name=f"Clip of {NAME}"), 30_000)
