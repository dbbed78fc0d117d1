"""Drafting a reward in the task panel, in real headless Chromium against a real `robocoach serve`.

Pick a scene, describe the task, draft with the built-in drafter (offline), read the validated program,
change a weight, validate again, then break the program and see the located error; read the drafted success
check and its requirements, break it and see Train disabled with its located error.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import RunningApp
from tests.e2e.test_viewer import open_scene

pytestmark = pytest.mark.e2e

# The first validation starts a worker that imports JAX and traces each term on the scene's model.
DRAFT_TIMEOUT_MS = 180_000
# A cold Go1 draft traces its reward and validates its check on sample rollouts of a 12-joint robot
# (minutes on shared cores), as in test_cloud_drafting_ui.
GO1_DRAFT_TIMEOUT_MS = 480_000
VALIDATE_TIMEOUT_MS = 120_000
VALID = re.compile(r"^Valid\b")


def draft_reward(
    page: Page, app: RunningApp, name: str, scene_id: str, task: str, timeout_ms: int = DRAFT_TIMEOUT_MS
) -> Locator:
    """Opens the scene, drafts `task` with the built-in drafter and waits until the draft is valid.
    Returns the "Validation" status."""
    page.goto(app.url)
    open_scene(page, app, name, scene_id)
    page.get_by_role("textbox", name="Task").fill(task)
    provider = page.get_by_role("combobox", name="Provider")
    expect(provider).to_be_enabled(timeout=30_000)
    provider.select_option("builtin")
    expect(provider).to_have_value("builtin")
    page.get_by_role("button", name="Draft reward").click()
    validation = page.get_by_role("status", name="Validation")
    expect(validation).to_have_text(VALID, timeout=timeout_ms)
    return validation


def test_draft_edit_weight_validate_and_break(page: Page, served_app: RunningApp) -> None:
    validation = draft_reward(
        page,
        served_app,
        "Cartpole Balance",
        "CartpoleBalance",
        "Balance the pole with the cart at the left",
    )
    editor = page.get_by_role("textbox", name="Reward program")
    expect(editor).to_contain_text("WEIGHTS")
    expect(editor).to_contain_text(re.compile(r"s\.cart_(position|velocity)"))
    expect(
        page.get_by_text(re.compile(r"validated (on the first attempt|after \d+ attempts?)"))
    ).to_be_visible()

    # Double the first weight: the WEIGHTS assignment in the program text follows.
    terms = page.get_by_role("table", name="Reward terms")
    weight = terms.get_by_role("spinbutton").first
    term = (weight.get_attribute("aria-label") or "").removeprefix("Weight of ")
    new = float(weight.input_value()) * 2
    weight.fill(repr(new))
    expect(editor).to_contain_text(re.compile(rf"\b{term}\s*=\s*{re.escape(repr(new))}\b"))
    expect(validation).not_to_have_text(VALID)  # edited since the last validation
    page.get_by_role("button", name="Validate", exact=True).click()
    expect(validation).to_have_text(VALID, timeout=VALIDATE_TIMEOUT_MS)

    # An import is refused, located on line 1, in the list and in the editor.
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("import os\n")
    expect(editor).to_contain_text("import os")
    page.get_by_role("button", name="Validate", exact=True).click()
    expect(validation).to_have_text(re.compile(r"^Invalid"), timeout=VALIDATE_TIMEOUT_MS)
    errors = page.get_by_role("list", name="Program errors")
    expect(errors).to_contain_text(re.compile(r"line 1\b.*import", re.IGNORECASE))
    expect(page.locator(".cm-lintRange-error").first).to_be_visible()


def test_the_success_check_is_shown_edited_and_validated(page: Page, served_app: RunningApp) -> None:
    draft_reward(page, served_app, "Cartpole Balance", "CartpoleBalance", "Keep the pole upright")
    check = page.get_by_role("textbox", name="Success check program")
    expect(check).to_contain_text(re.compile(r"AT_(LEAST|MOST)"))
    expect(check).to_contain_text(re.compile(r"s\.\w+"))
    status = page.get_by_role("status", name="Check status")
    expect(status).to_have_text(VALID)
    requirements = page.get_by_role("list", name="Check requirements")
    expect(requirements.get_by_role("listitem").first).to_have_text(re.compile(r"^\w+ (>=|<=|\S+ to) "))
    train = page.get_by_role("button", name="Train policy")
    expect(train).to_be_enabled()

    # Editing the check disables Train until it is validated again; an import is refused, located.
    check.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("import os\n")
    expect(status).to_have_text(re.compile(r"^Edited"))
    expect(train).to_be_disabled()
    page.get_by_role("button", name="Validate check").click()
    expect(status).to_have_text(re.compile(r"^Invalid"), timeout=VALIDATE_TIMEOUT_MS)
    errors = page.get_by_role("list", name="Check errors")
    expect(errors).to_contain_text(re.compile(r"line 1\b.*import", re.IGNORECASE))
    expect(page.get_by_role("list", name="Program errors")).to_have_count(0)  # the reward is still valid
    expect(train).to_be_disabled()
    expect(page.get_by_role("note").filter(has_text="success check is invalid")).to_be_visible()

    # Removing the line again: valid, and Train is back.
    check.click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Delete")
    page.get_by_role("button", name="Validate check").click()
    expect(status).to_have_text(VALID, timeout=VALIDATE_TIMEOUT_MS)
    expect(train).to_be_enabled()


def test_draft_for_go1(page: Page, served_app: RunningApp) -> None:
    go1 = ("Go1 Joystick Flat Terrain", "Go1JoystickFlatTerrain")
    draft_reward(page, served_app, *go1, "Walk backwards slowly", timeout_ms=GO1_DRAFT_TIMEOUT_MS)
    expect(page.get_by_role("textbox", name="Reward program")).to_contain_text("WEIGHTS")
    expect(page.get_by_role("table", name="Reward terms").get_by_role("spinbutton").first).to_be_visible()


def test_the_three_tiers_are_offered_cheapest_first(page: Page, served_app: RunningApp) -> None:
    """Cartpole takes no commands and (in a fresh library) has no base: the command and fine-tune tiers
    are shown disabled with their reasons, training from scratch is preselected, and the panel offers to
    prepare a base."""
    draft_reward(page, served_app, "Cartpole Balance", "CartpoleBalance", "Keep the pole upright")
    tiers = page.get_by_role("radiogroup", name="Training method")
    radios = tiers.get_by_role("radio")
    expect(radios).to_have_count(3)
    command = tiers.get_by_role("radio", name=re.compile(r"^Command a base policy"))
    fine = tiers.get_by_role("radio", name=re.compile(r"^Fine-tune a base policy"))
    full = tiers.get_by_role("radio", name=re.compile(r"^Train from scratch"))
    expect(command).to_be_disabled()
    expect(tiers).to_contain_text("takes no commands")
    expect(fine).to_be_disabled()
    expect(tiers).to_contain_text(re.compile(r"no base policy for CartpoleBalance"))
    expect(full).to_be_checked()
    expect(page.get_by_role("button", name="Prepare a base policy")).to_be_visible()
    # The cheapest first: the order of the cards on the page.
    values = [radios.nth(i).get_attribute("value") for i in range(3)]
    assert values == ["command", "fine_tuning", "full_training"]
    expect(page.get_by_role("button", name="Train policy")).to_be_enabled()
    expect(page.get_by_role("combobox", name="Time budget")).to_have_value("fast")
