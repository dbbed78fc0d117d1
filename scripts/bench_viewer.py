"""Benchmark: how fast each scene loads and steps in headless Chromium (MuJoCo WebAssembly + three.js).

Starts `robocoach serve`, opens each scene the way a person does, and prints: time from click to first
frame, and the real-time factor the UI reports (simulated seconds per wall second) over a 10 s window.

Usage: .venv/bin/python scripts/bench_viewer.py [SCENE_ID ...]
(default: CartpoleBalance Go1JoystickFlatTerrain)
Set ROBOCOACH_TEST_SCENE_CACHE to a folder to reuse exported models between runs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app

WINDOW_S = 10.0


def main(scene_ids: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(os.environ.get("ROBOCOACH_TEST_SCENE_CACHE") or Path(scratch) / "cache")
        app = start_app(Path(scratch) / "data", cache)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(app.url)
                print(f"{'scene':<28} {'load s':>7} {'sim s':>7} {'wall s':>7} {'RTF':>6}  UI RTF")
                for scene_id in scene_ids:
                    button = page.locator(f'button[data-scene-id="{scene_id}"]')
                    expect(button).to_be_visible(timeout=600_000)
                    clicked = time.perf_counter()
                    button.click()
                    viewport = page.locator(f'.viewport[data-scene-id="{scene_id}"]')
                    expect(viewport).to_have_attribute("data-state", "ready", timeout=120_000)
                    loaded = time.perf_counter() - clicked
                    page.wait_for_timeout(2000)  # let JIT warm-up and the first frames pass
                    sim0, wall0 = _sim_time(page), time.perf_counter()
                    page.wait_for_timeout(WINDOW_S * 1000)
                    sim1, wall1 = _sim_time(page), time.perf_counter()
                    rtf = (sim1 - sim0) / (wall1 - wall0)
                    ui_rtf = page.get_by_label("Real-time factor").inner_text()
                    figures = f"{loaded:7.2f} {sim1 - sim0:7.2f} {wall1 - wall0:7.2f} {rtf:6.2f}"
                    print(f"{scene_id:<28} {figures}  {ui_rtf}")
                browser.close()
        finally:
            stop_app(app)


def _sim_time(page: Page) -> float:
    return float(page.get_by_label("Simulation time").inner_text().removesuffix(" s"))


if __name__ == "__main__":
    main(sys.argv[1:] or ["CartpoleBalance", "Go1JoystickFlatTerrain"])
