"""Live-playback latency: round trip of one control step (browser state in, ctrl out) through a real
`robocoach serve`, its WebSocket and its inference worker, with 1 and 8 sessions playing at once.

    .venv/bin/python scripts/bench_inference.py [--cache-dir DIR] [--steps 500]

Each session is a thread that steps MuJoCo's C library the way the browser does (tests/inference/
browser.py) and sends each interval as soon as the previous reply arrived (no wall-clock pacing), so
the figures are the server's answer time plus the loopback network, not the UI's frame rate. Policies
are untrained (initial weights): latency does not depend on what the weights are. Meanwhile another
thread calls GET /api/health every 50 ms: the "health" columns are the rest of the API's latency while
the sessions play.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.sync.client import connect

from server.inference.protocol import Action, Episode, Hello, Reset, Status, decode_server, encode
from server.policies.library import PolicyLibrary
from server.settings import load_settings
from server.training.runner import load_scene
from tests.e2e.conftest import RunningApp, start_app, stop_app
from tests.inference.browser import Browser
from tests.inference.policies import save_untrained_policy

SCENES = ["CartpoleBalance", "Go1JoystickFlatTerrain"]


def session(
    url: str, model: object, steps: int, warmup: int, out: list[float], ready: threading.Barrier
) -> None:
    with connect(url, max_size=2**24) as ws:
        while isinstance(hello := decode_server(ws.recv(decode=False)), Status):
            pass
        assert isinstance(hello, Hello)
        browser = Browser(model, hello)  # type: ignore[arg-type]
        ws.send(encode(Reset(seed=0)))
        episode = decode_server(ws.recv(decode=False))
        assert isinstance(episode, Episode)
        browser.start(episode)
        ready.wait()
        for seq in range(warmup + steps):
            step = browser.interval(seq)
            sent = time.perf_counter()
            ws.send(encode(step))
            reply = decode_server(ws.recv(decode=False))
            elapsed = time.perf_counter() - sent
            assert isinstance(reply, Action), reply
            browser.apply(reply)
            if seq >= warmup:
                out.append(elapsed * 1000)
            if reply.done:
                ws.send(encode(Reset(seed=seq)))
                browser.start(decode_server(ws.recv(decode=False)))  # type: ignore[arg-type]


def poll_health(base: str, token: str, stop: threading.Event, out: list[float]) -> None:
    url = f"{base}/api/health"  # our own http://127.0.0.1 server
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    while not stop.wait(0.05):
        sent = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()
        out.append((time.perf_counter() - sent) * 1000)


def measure(
    url: str, model: object, sessions: int, steps: int, health: list[float] | None = None
) -> list[float]:
    results: list[list[float]] = [[] for _ in range(sessions)]
    ready = threading.Barrier(sessions)
    threads = [
        threading.Thread(target=session, args=(url, model, steps, 50, results[i], ready))
        for i in range(sessions)
    ]
    stop = threading.Event()
    if health is not None:
        base, token = url.split("/api/")[0].replace("ws://", "http://"), url.split("token=")[1]
        threads.append(threading.Thread(target=poll_health, args=(base, token, stop, health)))
    for thread in threads:
        thread.start()
    for thread in threads[:sessions]:
        thread.join()
    stop.set()
    threads[-1].join()
    return [x for r in results for x in r]


HEADER = (
    f"{'scene':26} {'sessions':>8} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'steps/s':>8} "
    f"{'health p50':>10} {'health p99':>10}"
)


def untrained_library(data_dir: Path, cache_dir: Path) -> dict[str, str]:
    """An untrained policy of each of SCENES in the library under `data_dir`: scene id -> policy id."""
    library = PolicyLibrary(data_dir)
    ids = {}
    for scene in SCENES:
        staging = data_dir / "policies" / f"staging-{scene}"
        save_untrained_policy(staging, scene, cache_dir)
        ids[scene] = library.add(staging).policy_id
    return ids


def latency_rows(app: RunningApp, ids: dict[str, str], cache_dir: Path, steps: int, label: str = "") -> None:
    """One printed row per scene and session count (1, 8): round trip and health latency."""
    ws_base = app.base.replace("http://", "ws://")
    for scene in SCENES:
        model = load_scene(scene, cache_dir).env.mj_model
        url = f"{ws_base}/api/models/{ids[scene]}/inference?token={app.token}"
        measure(url, model, 1, 10)  # compile once, outside the figures
        for sessions in (1, 8):
            started = time.perf_counter()
            health: list[float] = []
            rtts = measure(url, model, sessions, steps, health)
            wall = time.perf_counter() - started
            p50, p99 = np.percentile(rtts, [50, 99])
            h50, h99 = np.percentile(health, [50, 99]) if health else (float("nan"),) * 2
            print(
                f"{scene:26} {sessions:>8} {p50:>8.2f} {p99:>8.2f} {statistics.fmean(rtts):>8.2f} "
                f"{len(rtts) / wall:>8.0f} {h50:>10.2f} {h99:>10.2f}{label}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=load_settings().cache_dir)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        ids = untrained_library(data_dir, args.cache_dir)
        app = start_app(data_dir, args.cache_dir)
        try:
            print(HEADER)
            latency_rows(app, ids, args.cache_dir, args.steps)
        finally:
            stop_app(app)


if __name__ == "__main__":
    main()
