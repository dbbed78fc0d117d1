"""Live preview of a training job (issue 12): what a person waits for while a job trains on the same CPU.

    .venv/bin/python scripts/bench_preview.py latency [--steps 500] [--train-scene CartpoleBalance]
    .venv/bin/python scripts/bench_preview.py first-frame [--preset auto] [--timesteps N]

`latency`: playback round trip p50/p99 (scripts/bench_inference.py's sessions and health poller) for
CartpoleBalance and Go1, 1 and 8 sessions, first idle, then while a CPU training job started through the
API (`POST /api/training/start`, a real worker of a real `robocoach serve`) trains on the same machine,
measured from its first progress event (past its compilation) on; the job is cancelled at the end. The
last column is the job's own steps/s meanwhile: the training worker yields the CPU, it is not stopped.

`first-frame`: time from POST train to the first Action of a preview session (`WS /api/jobs/{id}/preview`:
wait for Hello, Reset, step until an Action), then the preview keeps playing at real time (one control
interval per ctrl_dt, as the window does) until the job ends; the total job time (started_at to
finished_at) is compared with the same job run first without a preview session (that first run also
fills the XLA compilation cache, if it is cold: run the command twice and read the second). CartpoleBalance,
the default preset (`auto`: the CPU preset on a CPU).

Print figures only; docs/BENCHMARKS.md holds the ones the maintainers measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_inference import HEADER, latency_rows, untrained_library
from websockets.sync.client import connect

from server.inference.protocol import (
    Action,
    Episode,
    Error,
    Hello,
    PolicyUpdate,
    Reset,
    decode_server,
    encode,
)
from server.settings import load_settings
from server.training.runner import load_scene
from tests.e2e.conftest import RunningApp, start_app, stop_app
from tests.inference.browser import Browser
from tests.inference.policies import PROGRAMS

FINAL = ("succeeded", "failed", "cancelled", "interrupted")


def api(app: RunningApp, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 server)
        f"{app.base}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {app.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        return json.loads(response.read())


def start_job(app: RunningApp, scene: str, preset: str, timesteps: int | None, name: str) -> str:
    spec: dict[str, Any] = {"scene_id": scene, "program": PROGRAMS[scene], "name": name, "preset": preset}
    if timesteps is not None:
        spec["timesteps"] = timesteps
    return str(api(app, "POST", "/api/training/start", spec)["job_id"])


def status(app: RunningApp, job_id: str) -> dict[str, Any]:
    return api(app, "GET", f"/api/training/{job_id}/status")  # type: ignore[no-any-return]


def wait_for(app: RunningApp, job_id: str, done: Any, poll_s: float = 0.5) -> dict[str, Any]:
    while True:
        now = status(app, job_id)
        if done(now):
            return now
        time.sleep(poll_s)


def job_seconds(job: dict[str, Any]) -> float:
    started, finished = (datetime.fromisoformat(job[k]) for k in ("started_at", "finished_at"))
    return (finished - started).total_seconds()


# ---- latency, idle vs training ---------------------------------------------------------------------------
def latency(app: RunningApp, ids: dict[str, str], args: argparse.Namespace) -> None:
    print(f"{HEADER} {'condition':>10} {'train steps/s':>13}")
    latency_rows(app, ids, args.cache_dir, args.steps, f" {'idle':>10}")
    # Long enough to outlast the measurements; cancelled once they are done.
    job_id = start_job(app, args.train_scene, "cpu", 2_000_000_000, "bench: training beside playback")
    try:
        wait_for(app, job_id, lambda s: s["progress"] is not None or s["state"] in FINAL)
        latency_rows(app, ids, args.cache_dir, args.steps, f" {'training':>10}")
        progress = status(app, job_id)["progress"]
        rate = (
            f"{progress['steps_per_second']:.0f} steps/s" if progress["steps_per_second"] else "no rate yet"
        )
        print(f"training job {job_id}: {progress['step']} steps trained by the end ({rate})", flush=True)
    finally:
        api(app, "POST", f"/api/training/{job_id}/cancel")


# ---- first preview frame, and job time with and without a preview -----------------------------------------
class PreviewSession(threading.Thread):
    """A window previewing the job: the first Action's time, then real-time play until the job ends."""

    def __init__(self, app: RunningApp, job_id: str, model: Any, posted: float) -> None:
        super().__init__(daemon=True)
        self.url = f"{app.base.replace('http://', 'ws://')}/api/jobs/{job_id}/preview?token={app.token}"
        self.model, self.posted = model, posted
        self.first_frame: float | None = None
        self.updates: list[PolicyUpdate] = []
        self.error: BaseException | None = None

    def _reply(self, ws: Any) -> Any:
        """The next message that is not a PolicyUpdate (those are kept) or a Status."""
        while True:
            message = decode_server(ws.recv())
            if isinstance(message, PolicyUpdate):
                self.updates.append(message)
            elif isinstance(message, Error):
                raise RuntimeError(message)
            elif isinstance(message, Hello | Episode | Action):
                return message

    def run(self) -> None:
        try:
            with connect(self.url, max_size=2**24, open_timeout=60) as ws:
                hello = self._reply(ws)
                assert isinstance(hello, Hello), hello
                browser = Browser(self.model, hello)
                ws.send(encode(Reset(seed=0)))
                browser.start(self._reply(ws))
                tick = time.perf_counter()
                seq = 0
                while not (self.updates and self.updates[-1].ended):
                    ws.send(encode(browser.interval(seq)))
                    reply = self._reply(ws)
                    if self.first_frame is None:
                        self.first_frame = time.perf_counter() - self.posted
                    browser.apply(reply)
                    if reply.done:
                        ws.send(encode(Reset(seed=seq)))
                        browser.start(self._reply(ws))
                    seq += 1
                    tick += hello.ctrl_dt  # real time, as the window plays
                    time.sleep(max(0.0, tick - time.perf_counter()))
        except Exception as exc:  # reported by the main thread
            self.error = exc


def first_frame(app: RunningApp, args: argparse.Namespace) -> None:
    scene = "CartpoleBalance"
    model = load_scene(scene, args.cache_dir).env.mj_model
    results = {}
    for preview in (False, True):
        posted = time.perf_counter()
        job_id = start_job(app, scene, args.preset, args.timesteps, f"bench: preview={preview}")
        session = PreviewSession(app, job_id, model, posted)
        if preview:
            session.start()
        job = wait_for(app, job_id, lambda s: s["state"] in FINAL)
        wall = time.perf_counter() - posted
        if preview:
            session.join(timeout=60)
            if session.error is not None:
                raise session.error
        results[preview] = job_seconds(job)
        steps = sorted({u.step for u in session.updates})
        print(
            f"preview={'on ' if preview else 'off'} job {job_id} {job['state']}: job time "
            f"{results[preview]:.1f} s (POST to final state {wall:.1f} s, {len(job['history'])} evaluations)",
            flush=True,
        )
        trained = [point for point in job["history"] if point["step"] > 0]
        if job["history"] and trained:
            print(
                f"  evaluations, in the job's time: step 0 at {job['history'][0]['elapsed_s']:.1f} s, the "
                f"first trained params (step {trained[0]['step']}) at {trained[0]['elapsed_s']:.1f} s",
                flush=True,
            )
        if preview:
            frame = f"{session.first_frame:.1f} s" if session.first_frame is not None else "never"
            print(f"  POST train to the first preview Action: {frame}")
            print(f"  the preview played the params of {len(steps)} evaluations, steps {steps}", flush=True)
    print(f"job time with a preview open / without: {results[True] / results[False]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("latency", "first-frame"))
    parser.add_argument("--cache-dir", type=Path, default=load_settings().cache_dir)
    parser.add_argument("--steps", type=int, default=500, help="latency: control steps per session")
    parser.add_argument("--train-scene", default="CartpoleBalance", choices=sorted(PROGRAMS))
    parser.add_argument("--preset", default="auto", help="first-frame: the job's preset")
    parser.add_argument("--timesteps", type=int, default=None, help="first-frame: the preset's if unset")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        ids = untrained_library(data_dir, args.cache_dir) if args.part == "latency" else {}
        app = start_app(data_dir, args.cache_dir)
        try:
            if args.part == "latency":
                latency(app, ids, args)
            else:
                first_frame(app, args)
        finally:
            stop_app(app)


if __name__ == "__main__":
    main()
