"""A person's first minutes, in real headless Chromium against a real `robocoach serve`.

Pick Cartpole and Go1 from the list, see them drawn (checked by the pixels of a screenshot), see simulated
time advance, and drag a body with the mouse and see it move.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import RunningApp

pytestmark = pytest.mark.e2e

SCENE_READY_TIMEOUT_MS = 240_000  # Go1's export waits behind the catalog build on a cold cache
BACKGROUND = np.array([0x1B, 0x1F, 0x24])  # the viewer's clear colour (ui/src/viewer/renderer.ts)


def sim_time(page: Page) -> float:
    text = page.get_by_label("Simulation time").inner_text()
    return float(text.removesuffix(" s"))


def settled_sim_time(page: Page) -> float:
    """The readout once it has caught up: the status bar polls the simulation every 100 ms."""
    previous = sim_time(page)
    for _ in range(20):
        page.wait_for_timeout(250)
        current = sim_time(page)
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"simulation time kept changing (last {previous} s)")


def body_position(page: Page) -> np.ndarray:
    text = page.get_by_label("Selected body position").inner_text()
    match = re.fullmatch(r"x (\S+) y (\S+) z (\S+)", text.strip())
    assert match, f"unexpected position text {text!r}"
    return np.array([float(v) for v in match.groups()])


def open_scene(page: Page, app: RunningApp, name: str, scene_id: str) -> Locator:
    search = page.get_by_role("searchbox", name="Search scenes")
    search.fill(name)
    button = page.get_by_role("button", name=name, exact=True)
    expect(button).to_be_visible(timeout=SCENE_READY_TIMEOUT_MS)
    button.click()
    viewport = page.locator(f'.viewport[data-scene-id="{scene_id}"]')
    expect(viewport).to_have_attribute("data-state", "ready", timeout=SCENE_READY_TIMEOUT_MS)
    return page.get_by_label("Simulation viewport")


def canvas_pixels(canvas: Locator) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(np.int16)


def assert_something_drawn(pixels: np.ndarray) -> None:
    """A blank or clear-colour-only canvas fails; a lit robot on a ground plane has many colours."""
    off_background = np.abs(pixels - BACKGROUND).sum(axis=2) > 40
    assert off_background.mean() > 0.05, f"only {off_background.mean():.1%} of the canvas is drawn"
    distinct = len(np.unique((pixels // 16).reshape(-1, 3), axis=0))
    assert distinct > 20, f"only {distinct} distinct colours: nothing shaded is drawn"


def grab_a_body(page: Page, canvas: Locator) -> tuple[float, float]:
    """Clicks over a grid, centre outwards, until the viewer reports a selected body: as a person finds
    the robot. The status bar refreshes every 100 ms, so each click waits for it before looking."""
    box = canvas.bounding_box()
    assert box is not None
    selected = page.get_by_label("Selected body", exact=True)
    grid = [(fx, fy) for fy in np.linspace(0.2, 0.8, 9) for fx in np.linspace(0.15, 0.85, 15)]
    grid.sort(key=lambda f: (f[0] - 0.5) ** 2 + (f[1] - 0.5) ** 2)
    for fx, fy in grid:
        x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_timeout(250)
        if selected.count() and selected.inner_text(timeout=1000).strip():
            return x, y
    raise AssertionError(f"no body found under any of {len(grid)} clicks on the viewport")


def drag_and_measure(page: Page, at: tuple[float, float], by: tuple[float, float]) -> float:
    """Presses on the body, moves the mouse, holds, and returns how far the body moved (metres)."""
    page.mouse.move(*at)
    page.mouse.down()
    before = body_position(page)
    for step in range(1, 11):
        page.mouse.move(at[0] + by[0] * step / 10, at[1] + by[1] * step / 10)
        page.wait_for_timeout(60)
    page.wait_for_timeout(1000)
    after = body_position(page)
    page.mouse.up()
    return float(np.linalg.norm(after - before))


@pytest.mark.parametrize(
    ("name", "scene_id", "drag"),
    [
        ("Cartpole Balance", "CartpoleBalance", (160, 0)),
        ("Go1 Joystick Flat Terrain", "Go1JoystickFlatTerrain", (0, -120)),
    ],
)
def test_pick_scene_see_it_run_and_drag_it(
    page: Page, served_app: RunningApp, name: str, scene_id: str, drag: tuple[float, float]
) -> None:
    page.goto(served_app.url)
    # The token left the address bar: it is kept in the tab's sessionStorage only.
    expect(page).not_to_have_url(re.compile("token="))
    canvas = open_scene(page, served_app, name, scene_id)

    assert_something_drawn(canvas_pixels(canvas))

    started = sim_time(page)
    page.wait_for_timeout(1500)
    assert sim_time(page) > started + 0.5, "simulated time did not advance"

    at = grab_a_body(page, canvas)
    moved = drag_and_measure(page, at, drag)
    assert moved > 0.02, f"the dragged body moved only {moved:.4f} m"


def test_pause_and_step(page: Page, served_app: RunningApp) -> None:
    page.goto(served_app.url)
    open_scene(page, served_app, "Cartpole Balance", "CartpoleBalance")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    paused_at = settled_sim_time(page)
    page.wait_for_timeout(600)
    assert sim_time(page) == paused_at
    page.get_by_role("button", name="Step").click()
    page.wait_for_timeout(300)
    assert sim_time(page) > paused_at
    page.get_by_role("button", name="Reset").click()
    page.wait_for_timeout(300)
    assert sim_time(page) == 0.0


def test_page_without_token_explains_itself(page: Page, served_app: RunningApp) -> None:
    page.goto(served_app.base + "/")
    expect(page.get_by_text(re.compile("token", re.IGNORECASE)).first).to_be_visible(timeout=20_000)
