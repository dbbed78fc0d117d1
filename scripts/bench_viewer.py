"""Benchmark: how fast each scene loads and steps in headless Chromium (MuJoCo WebAssembly + three.js).

Starts `robocoach serve`, opens each scene the way a person does, and prints: time from click to first
frame, the real-time factor the UI reports (simulated seconds per wall second) over a 10 s window, and the
cores Chromium's GPU process and renderers used over that window (CPU time from /proc: under SwiftShader the
GPU process is where drawing costs, and on a CPU-only machine that is taken from a training job).

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
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def chromium_cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of every running Chromium process, summed by its --type (browser: none)."""
    seconds: dict[str, float] = {}
    for proc in Path("/proc").iterdir():
        try:
            # Chromium rewrites its children's command lines as one space-separated string.
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").split()
            if not argv or Path(argv[0].decode()).name != "chromium":  # /usr/bin/chromium is a script
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue  # not ours, or gone meanwhile
        kind = next((a.decode()[7:] for a in argv if a.startswith(b"--type=")), "browser")
        used = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
        seconds[kind] = seconds.get(kind, 0.0) + used
    return seconds


def main(scene_ids: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(os.environ.get("ROBOCOACH_TEST_SCENE_CACHE") or Path(scratch) / "cache")
        app = start_app(Path(scratch) / "data", cache)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(app.url)
                header = f"{'scene':<28} {'load s':>7} {'sim s':>7} {'wall s':>7} {'RTF':>6}"
                print(f"{header}  UI RTF  GPU-process cores  renderer cores")
                for scene_id in scene_ids:
                    button = page.locator(f'button[data-scene-id="{scene_id}"]')
                    expect(button).to_be_visible(timeout=600_000)
                    clicked = time.perf_counter()
                    button.click()
                    viewport = page.locator(f'.viewport[data-scene-id="{scene_id}"]')
                    expect(viewport).to_have_attribute("data-state", "ready", timeout=120_000)
                    loaded = time.perf_counter() - clicked
                    page.wait_for_timeout(2000)  # let JIT warm-up and the first frames pass
                    sim0, wall0, cpu0 = _sim_time(page), time.perf_counter(), chromium_cpu_seconds()
                    page.wait_for_timeout(WINDOW_S * 1000)
                    sim1, wall1, cpu1 = _sim_time(page), time.perf_counter(), chromium_cpu_seconds()
                    cores = {kind: (cpu1[kind] - cpu0.get(kind, 0.0)) / (wall1 - wall0) for kind in cpu1}
                    rtf = (sim1 - sim0) / (wall1 - wall0)
                    ui_rtf = page.get_by_label("Real-time factor").inner_text()
                    figures = f"{loaded:7.2f} {sim1 - sim0:7.2f} {wall1 - wall0:7.2f} {rtf:6.2f}"
                    gpu, renderer = cores.get("gpu-process", 0.0), cores.get("renderer", 0.0)
                    print(f"{scene_id:<28} {figures}  {ui_rtf:>6}  {gpu:17.2f}  {renderer:14.2f}")
                browser.close()
        finally:
            stop_app(app)


def _sim_time(page: Page) -> float:
    return float(page.get_by_label("Simulation time").inner_text().removesuffix(" s"))


if __name__ == "__main__":
    main(sys.argv[1:] or ["CartpoleBalance", "Go1JoystickFlatTerrain"])
