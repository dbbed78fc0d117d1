"""First launch: how soon a real `robocoach serve` lists every scene and serves CartpoleBalance's model.

    .venv/bin/python scripts/bench_first_launch.py [--no-pack] [--browser] [--runs N]

Each run starts the server on a fresh data dir and scene cache (first launch), then again on the same dirs
(warm), and prints, from the moment the process is started: the URL printed (server up), the scene list
knowing every id (scenes + pending + failed = the catalogue), and CartpoleBalance's model fully downloaded
(`GET /api/playground/scenes/CartpoleBalance/model.mjb`, which waits for its export if there is one).
`--browser` instead opens the page in headless Chromium (as the window does) right after the URL is
printed and times it to CartpoleBalance simulating (the viewport's data-state "ready"); build the UI first
(`cd ui && npm run build`, or set ROBOCOACH_UI_DIST to a build). `--no-pack` runs without the shipped
scene pack (scenes/pack/, server/scenes/pack.py), as a source checkout without
`python -m server.scenes.pack scenes/pack` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Browser, expect, sync_playwright

from server.scenes.registry import cache_key
from server.scenes.shipped import PACK_DIR, read_shipped_catalog
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, RunningApp, start_app, stop_app

SCENE = "CartpoleBalance"


def get(app: RunningApp, path: str) -> bytes:
    request = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 server)
        f"{app.base}{path}", headers={"Authorization": f"Bearer {app.token}"}
    )
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
        return bytes(response.read())


def launch(data_dir: Path, cache_dir: Path, env: dict[str, str], browser: Browser | None) -> dict[str, float]:
    started = time.perf_counter()
    app = start_app(data_dir, cache_dir, timeout=300, env=env)
    times = {"server up": time.perf_counter() - started}
    try:
        if browser is not None:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            opened = time.perf_counter()
            page.goto(app.url)
            viewport = page.locator(f'.viewport[data-scene-id="{SCENE}"]')
            expect(viewport).to_have_attribute("data-state", "ready", timeout=600_000)
            times[f"page open to {SCENE} simulating"] = time.perf_counter() - opened
            times["start to simulating"] = time.perf_counter() - started
            page.close()
            return times
        while True:
            listing = json.loads(get(app, "/api/playground/scenes"))
            known = len(listing["scenes"]) + len(listing["pending"]) + len(listing["failed"])
            if known > 0:
                times["every id listed"] = time.perf_counter() - started
                times["ids"] = known
                times["ready at list"] = len(listing["scenes"])
                break
            time.sleep(0.02)
        model = get(app, f"/api/playground/scenes/{SCENE}/model.mjb")
        times[f"{SCENE} model served"] = time.perf_counter() - started
        times["model gz MiB"] = len(model) / 2**20
    finally:
        stop_app(app)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-pack", action="store_true", help="run without the shipped scene pack")
    parser.add_argument("--browser", action="store_true", help="time the page to the first scene simulating")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    pack = PACK_DIR / cache_key()
    env: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="robocoach-bench-") as tmp:
        if args.no_pack:
            env["ROBOCOACH_SCENE_PACK_DIR"] = str(Path(tmp) / "no-pack")
        elif not pack.is_dir():
            print(f"no scene pack at {pack}: build it with python -m server.scenes.pack {PACK_DIR}")
            return 1
        shipped = read_shipped_catalog() is not None
        print(f"pack: {'none' if args.no_pack else pack}; shipped catalogue: {'yes' if shipped else 'no'}")
        print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        with sync_playwright() as playwright:
            browser = (
                playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                if args.browser
                else None
            )
            for run in range(args.runs):
                root = Path(tmp) / f"run{run}"
                for label in ("fresh", "warm"):
                    times = launch(root / "data", root / "cache", env, browser)
                    figures = ", ".join(
                        f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in times.items()
                    )
                    print(f"{label:>5}: {figures}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
