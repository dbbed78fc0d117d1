"""Training a policy from the task panel and keeping it in the library, in real headless Chromium against a
real `robocoach serve`.

Draft Cartpole Balance with the built-in drafter, train with the quick preset, watch the job succeed with the
progress bar at 100, open the policy in the library, rename it, and see the name survive a reload.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningApp
from tests.e2e.test_task_panel import draft_reward

pytestmark = pytest.mark.e2e

# The quick preset trains for seconds, but the first job imports JAX and compiles the PPO step on 2 cores.
TRAIN_TIMEOUT_MS = 240_000


def test_train_quick_policy_then_rename_it_in_the_library(page: Page, served_app: RunningApp) -> None:
    draft_reward(page, served_app, "Cartpole Balance", "CartpoleBalance", "Balance the pole upright")

    page.get_by_role("combobox", name="Preset").select_option(label="Quick test (seconds)")
    expect(page.get_by_role("status", name="Time estimate")).to_contain_text("seconds")
    page.get_by_role("button", name="Train policy").click()

    training = page.get_by_role("region", name="Training")
    state = training.get_by_role("status", name="Job state")
    expect(state).to_have_text(re.compile(r"^(queued|running|succeeded)$"), timeout=30_000)
    expect(state).to_have_text(
        re.compile(r"^(succeeded|failed|cancelled|interrupted)$"), timeout=TRAIN_TIMEOUT_MS
    )
    if state.inner_text() != "succeeded":
        errors = training.get_by_role("alert").all_inner_texts()
        pytest.fail(f"training ended {state.inner_text()}: {errors}")
    progress = training.get_by_role("progressbar", name="Training progress")
    expect(progress).to_have_attribute("aria-valuenow", "100")
    expect(training.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
    expect(training).to_contain_text("Saved to library")
    # The curve from the job's full history (the list of jobs carries none).
    expect(training.get_by_role("img", name="Reward (your program) by step")).to_be_visible()
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
