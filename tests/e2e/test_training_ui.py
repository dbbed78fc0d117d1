"""Teaching a policy from the task panel, watching it learn, and keeping it in the library, in real headless
Chromium against a real `robocoach serve` (one real CPU job, the slow part, so one test walks it all).

Draft Cartpole Balance with the built-in drafter (a reward and its success check) and train a CPU job with
several evaluations, no reflection round and no early stop. Its live preview plays in the viewer (issue #12):
it starts (the step label after the preview's Hello), its label changes at least twice as newer evaluations'
params are swapped in, and when the job ends the panel says so and offers the kept policy. The job view shows
the progress bar at 100, the curves, the check's verdict, the kept step and why the job ended, and the kept
policy's clip. The library opens on the new policy with its verdict badge and its clip (a decoded image, not
a broken one); a rename survives a reload.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import RunningApp
from tests.e2e.test_task_panel import draft_reward

pytestmark = pytest.mark.e2e

NAME = "Previewed cartpole"
# The CPU preset's 10 evaluations. The preview worker compiles its policy at normal priority while the job
# (which yields the CPU) compiles PPO, so it is up long before the first evaluation.
TIMESTEPS = "100000"
# The job compiles PPO and the check's rollouts at the lowest priority, beside the preview, on 2 shared cores.
JOB_TIMEOUT_S = 900
PREVIEW_START_TIMEOUT_MS = 240_000
CLIP_TIMEOUT_MS = 120_000
STEP_LABEL = re.compile(r"^Live preview · step [\d.]+[kMG]? of [\d.]+[kMG]? · ")
VERDICT = re.compile(r"^(passed|failed)\b")
ENDED_STATES = ("succeeded", "failed", "cancelled", "interrupted")


def train_one_job(page: Page, name: str, *, preset: str, timesteps: str | None = None) -> None:
    """Presses Train for one job that runs its whole budget: no reflection round, no early stop once the
    check passes (so what the test sees is the budget's policy)."""
    page.get_by_role("combobox", name="Preset").select_option(label=preset)
    if timesteps is not None:
        page.get_by_role("spinbutton", name="Timesteps").fill(timesteps)
    page.get_by_role("spinbutton", name="Reflection rounds").fill("0")
    page.get_by_role("spinbutton", name="Stop after passing evaluations").fill("0")
    page.get_by_role("textbox", name="Name for the policy").fill(name)
    page.get_by_role("button", name="Train policy").click()


def expect_decoded_image(image: Locator, timeout_ms: int) -> None:
    """The <img> is shown and its bytes decoded as an image (a 404 or a token refusal would not be)."""
    expect(image).to_be_visible(timeout=timeout_ms)
    image.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") > 0


@pytest.mark.timeout(1800)  # a real job with 10 judged evaluations, yielding the CPU to everything else
def test_train_watch_it_learn_then_keep_it_in_the_library(page: Page, served_app: RunningApp) -> None:
    draft_reward(page, served_app, "Cartpole Balance", "CartpoleBalance", "Balance the pole upright")
    # The draft comes with a validated success check; the job is judged by it.
    expect(page.get_by_role("status", name="Check status")).to_have_text(re.compile(r"^Valid\b"))
    expect(page.get_by_role("list", name="Check requirements")).to_contain_text(re.compile(r"(>=|<=) \d"))

    train_one_job(page, NAME, preset="CPU (minutes)", timesteps=TIMESTEPS)

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
    # The job view: the whole budget ran, the curves from the job's full history, and the kept checkpoint's
    # verdict, the step it was taken at, and why the job ended.
    progress_bar = training.get_by_role("progressbar", name="Training progress")
    expect(progress_bar).to_have_attribute("aria-valuenow", "100")
    expect(training.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
    expect(training).to_contain_text("Saved to library")
    expect(training.get_by_role("img", name="Reward (your program) by step")).to_be_visible()
    expect(training.get_by_role("img", name="Check score (0 to 1) by step")).to_be_visible()
    outcome = training.get_by_role("region", name="Outcome")
    verdict = outcome.locator("strong")
    expect(verdict).to_have_text(VERDICT)
    expect(outcome).to_contain_text(re.compile(r"kept the policy from step \d"))
    expect(outcome).to_contain_text(re.compile(r"ran its whole budget|stopped early: "))
    passed = verdict.inner_text().startswith("passed")
    # Reflection rounds were off: a failed check ends the job with its best, and no round follows.
    expect(training.get_by_role("list", name="Rounds")).to_have_count(0)
    expect(training.get_by_role("status", name="Reflection")).to_have_count(0)
    recent = training.get_by_role("list", name="Recent jobs")
    expect(recent.get_by_role("button", pressed=True)).to_have_count(1)
    shots = os.environ.get("ROBOCOACH_E2E_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        training.scroll_into_view_if_needed()
        page.screenshot(path=str(Path(shots) / "training-panel.png"))

    # The link opens the library with the new policy expanded, its verdict as the training panel gave it,
    # and its clip, fetched with the token like every API call.
    training.get_by_role("link", name="Open in library").click()
    library = page.get_by_role("region", name="Policy library")
    expect(library).to_be_visible()
    row = library.locator("tbody tr").filter(has=page.get_by_role("button", expanded=True))
    expect(row).to_have_count(1)
    expect(row.get_by_role("button", name=NAME)).to_be_visible()
    expect(row).to_contain_text("Cartpole Balance")
    expect(row).to_contain_text("Balance the pole upright")
    expect(row.locator(".policy-verdict .badge")).to_have_text("passed" if passed else "failed check")
    expect(row).to_contain_text(re.compile(r"kept the policy from step \d"))
    expect(library.get_by_role("region", name="Policy details")).to_be_visible()
    expect_decoded_image(row.get_by_role("img", name=f"Clip of {NAME}"), 30_000)

    row.get_by_role("button", name="Rename").click()
    name = library.get_by_role("textbox", name="Policy name")
    name.fill("Upright cartpole")
    name.press("Enter")
    expect(name).to_have_count(0)
    expect(row.get_by_role("button", name="Upright cartpole")).to_be_visible()

    page.reload()
    page.get_by_role("button", name="Library").click()
    library = page.get_by_role("region", name="Policy library")
    table = library.get_by_role("table", name="Policies")
    expect(table.get_by_role("button", name="Upright cartpole")).to_be_visible(timeout=30_000)
