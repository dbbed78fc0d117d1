"""Training a policy from the task panel and keeping it in the library, in real headless Chromium against a
real `robocoach serve`.

Draft Cartpole Balance with the built-in drafter (a reward and its success check), train with the quick
preset and no reflection round, watch the job succeed with the progress bar at 100 and its check's verdict,
kept step and stop reason shown, open the policy in the library and see its verdict badge, rename it, and see
the name survive a reload.
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

# The quick preset trains for seconds, but the first job imports JAX and compiles the PPO step on 2 cores.
TRAIN_TIMEOUT_MS = 240_000
# With the success check judged at every evaluation (5 rollouts each), measured under load on 2 cores.
CHECKED_TRAIN_TIMEOUT_MS = 600_000
VERDICT = re.compile(r"^(passed|failed)\b")


def wait_for_last_round(training: Locator, timeout_ms: int) -> None:
    """Waits until the shown job has an outcome and no reflection round is pending after it: the end of the
    lineage (a round that passed, the last round, or a job without a check)."""
    outcome = training.get_by_role("region", name="Outcome")
    reflection = training.get_by_role("status", name="Reflection")
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        left = max(1_000, int((deadline - time.monotonic()) * 1000))
        expect(outcome).to_be_visible(timeout=left)
        # The outcome and a pending revision render from the same status: both or the outcome alone.
        if reflection.count() == 0 and outcome.is_visible():
            return
        # A failed round: the panel follows the revised round, whose outcome replaces this one.
        expect(reflection).to_have_count(0, timeout=left)
        assert time.monotonic() < deadline, "the reflection rounds did not end in time"


def test_train_quick_policy_then_rename_it_in_the_library(page: Page, served_app: RunningApp) -> None:
    draft_reward(page, served_app, "Cartpole Balance", "CartpoleBalance", "Balance the pole upright")

    # The draft comes with a validated success check; the job is judged by it.
    expect(page.get_by_role("status", name="Check status")).to_have_text(re.compile(r"^Valid\b"))
    expect(page.get_by_role("list", name="Check requirements")).to_contain_text(re.compile(r"(>=|<=) \d"))

    page.get_by_role("combobox", name="Preset").select_option(label="Quick test (seconds)")
    expect(page.get_by_role("status", name="Time estimate")).to_contain_text("seconds")
    # No reflection round: a second job would not fit the test's time on 2 shared cores (the lineage is
    # covered by ui/src/training/lineage.test.ts and tests/training/test_check_rounds.py).
    page.get_by_role("spinbutton", name="Reflection rounds").fill("0")
    page.get_by_role("button", name="Train policy").click()

    training = page.get_by_role("region", name="Training")
    state = training.get_by_role("status", name="Job state")
    expect(state).to_have_text(re.compile(r"^(queued|running|succeeded)$"), timeout=30_000)
    # One job: it compiles the PPO step and the check's rollouts, trains and judges each evaluation.
    wait_for_last_round(training, CHECKED_TRAIN_TIMEOUT_MS)
    expect(state).to_have_text(re.compile(r"^(succeeded|failed|cancelled|interrupted)$"))
    if state.inner_text() != "succeeded":
        errors = training.get_by_role("alert").all_inner_texts()
        pytest.fail(f"training ended {state.inner_text()}: {errors}")
    progress = training.get_by_role("progressbar", name="Training progress")
    expect(progress).to_have_attribute("aria-valuenow", "100")
    expect(training.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
    expect(training).to_contain_text("Saved to library")
    # The curve from the job's full history (the list of jobs carries none), and the check's beside it.
    expect(training.get_by_role("img", name="Reward (your program) by step")).to_be_visible()
    expect(training.get_by_role("img", name="Check score (0 to 1) by step")).to_be_visible()

    # The kept checkpoint's verdict, the step it was taken at, and why the job ended.
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

    training.get_by_role("link", name="Open in library").click()
    library = page.get_by_role("region", name="Policy library")
    expect(library).to_be_visible()
    # The link opens the library with the new policy expanded.
    row = library.locator("tbody tr").filter(has=page.get_by_role("button", expanded=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Cartpole Balance")
    expect(row).to_contain_text("Balance the pole upright")
    # The kept policy's verdict, as the training panel gave it.
    expect(row.locator(".policy-verdict .badge")).to_have_text("passed" if passed else "failed check")
    expect(row).to_contain_text(re.compile(r"kept the policy from step \d"))
    expect(library.get_by_role("region", name="Policy details")).to_be_visible()

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
