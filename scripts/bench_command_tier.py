"""Command tier: sentence -> robot moving, wall time, through a real `robocoach serve` (issue 11's target:
<= 5 s including the first compile of the playback worker).

    .venv/bin/python scripts/bench_command_tier.py [--cache-dir DIR] [--repeats 1] [--reuse-compile-cache]

A base for Go1JoystickFlatTerrain ships in a temporary bases folder (ROBOCOACH_BASES_DIR) with UNTRAINED
weights: the same network and sizes as a trained base, and the latency does not depend on the weights.
The path a user takes (the task panel): the scene is opened, which sends POST /api/models/{base}/warm (the
playback worker starts compiling); the user types (here: until warm says ready, or 10 s, whichever comes
first; "warm s" is how long the compile took, or ">10" with the rest showing in "hello s"). Per sentence:
POST /api/policy/commands (the schedule and the command tier only, no reward drafting), then the playback
socket: time to `hello`, `schedule` + `reset`, and the steps until an `action` reports the schedule's first
command (the robot moving under it). "total s" counts from pressing Draft. The first sentence is cold (a
fresh server and, unless --reuse-compile-cache, an empty JAX compilation cache: a first use of the app);
the second is warm (the worker kept for a replay). A last row times the full POST /api/policy/generate
(time_budget fast) for the first sentence, cold (its reward worker was not started before): what the
command tier waited for before the fast path.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.sync.client import ClientConnection, connect

from server.api.inference import PlaybackWarm
from server.api.policy import CommandDraft, TaskDraft
from server.commands.schedule import command_at
from server.files import write_atomic
from server.inference.protocol import (
    Action,
    Episode,
    Hello,
    Reset,
    ServerMessage,
    SetSchedule,
    Status,
    decode_server,
    encode,
)
from server.policies.library import new_policy_id
from server.policies.manifest import MANIFEST_FILE, BaseProvenance, encode_manifest, read_checked
from server.settings import load_settings
from server.training.runner import load_scene
from tests.e2e.conftest import RunningApp, start_app, stop_app
from tests.inference.browser import Browser
from tests.inference.policies import save_untrained_policy

SCENE = "Go1JoystickFlatTerrain"
SENTENCES = ["walk backwards slowly, then turn left", "turn right in place, then walk forward for 2 seconds"]


def ship_untrained_base(bases_dir: Path, cache_dir: Path) -> str:
    """`bases_dir/<SCENE>/` as scripts/build_bases.py ships a base, with the network's initial weights."""
    folder = bases_dir / SCENE
    manifest = save_untrained_policy(folder, SCENE, cache_dir)
    provenance = BaseProvenance(
        command="scripts/bench_command_tier.py (untrained: initial weights)",
        preset=str(manifest.training_config.get("preset", "cpu_quick")),
        training_config=manifest.training_config,
        versions=manifest.versions,
        check=None,
        training_s=0.0,
        machine="untrained",
        built_at=datetime.now(UTC),
    )
    manifest = msgspec.structs.replace(
        manifest, policy_id=new_policy_id(), is_base=True, provenance=provenance, job_id=None
    )
    write_atomic(folder / MANIFEST_FILE, encode_manifest(manifest))
    return read_checked(folder).policy_id


def scene_cache(source: Path, scratch: Path, reuse_compiles: bool) -> Path:
    """The scene cache the server uses: `source`, or its files hard-linked without `jax-compilation`."""
    if reuse_compiles:
        return source
    target = scratch / "cache"
    for entry in source.iterdir():
        if entry.name != "jax-compilation" and entry.is_dir():
            shutil.copytree(entry, target / entry.name, symlinks=True, copy_function=os.link)
    return target


def receive(ws: ClientConnection) -> ServerMessage:
    frame = ws.recv()
    assert isinstance(frame, bytes), "the server sends binary frames only"
    return decode_server(frame)


def post(app: RunningApp, path: str, body: object | None = None) -> bytes:
    request = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 server)
        f"{app.base}{path}",
        data=msgspec.json.encode(body) if body is not None else b"",
        headers={"Authorization": f"Bearer {app.token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
        return response.read()  # type: ignore[no-any-return]


def generate(app: RunningApp, sentence: str) -> TaskDraft:
    body = {"task_description": sentence, "scene_id": SCENE, "provider": "builtin", "time_budget": "fast"}
    return msgspec.json.decode(post(app, "/api/policy/generate", body), type=TaskDraft)


def warm(app: RunningApp, base_id: str) -> bool:
    return msgspec.json.decode(post(app, f"/api/models/{base_id}/warm"), type=PlaybackWarm).ready


def user_types(app: RunningApp, base_id: str, limit_s: float = 10.0) -> float | None:
    """The scene is open (warm sent) and the user types: until warm is ready or `limit_s`, whichever comes
    first. The compile's seconds, or None when it was still compiling at `limit_s`."""
    started = time.perf_counter()
    while not warm(app, base_id):
        if time.perf_counter() - started > limit_s:
            return None
        time.sleep(0.1)
    return time.perf_counter() - started


def one_sentence(app: RunningApp, base_id: str, model: object, sentence: str) -> dict[str, float]:
    """Seconds from the sentence to each milestone, and how many control steps the first command took."""
    started = time.perf_counter()
    body = {"task_description": sentence, "scene_id": SCENE, "provider": "builtin"}
    draft = msgspec.json.decode(post(app, "/api/policy/commands", body), type=CommandDraft)
    drafted = time.perf_counter()
    report = draft.schedule
    assert draft.option.available, draft.option
    assert draft.base_policy == base_id, draft.base_policy
    assert report is not None and report.ok and report.schedule is not None, report
    url = f"{app.base.replace('http://', 'ws://')}/api/models/{base_id}/inference?token={app.token}"
    with connect(url, max_size=2**24, open_timeout=60) as ws:
        while isinstance(hello := receive(ws), Status):
            pass
        assert isinstance(hello, Hello) and hello.command is not None, hello
        helloed = time.perf_counter()
        browser = Browser(model, hello)  # type: ignore[arg-type]
        ws.send(encode(SetSchedule(schedule=report.schedule)))
        status = receive(ws)
        assert isinstance(status, Status) and status.phase == "ready", status
        ws.send(encode(Reset(seed=0)))
        episode = receive(ws)
        assert isinstance(episode, Episode)
        browser.start(episode)
        first = command_at(report.schedule, hello.command, 0.0)
        for seq in range(50):
            ws.send(encode(browser.interval(seq)))
            action = receive(ws)
            assert isinstance(action, Action), action
            browser.apply(action)
            if action.command is not None and np.allclose(action.command, first, atol=1e-6):
                break
        else:
            raise AssertionError(f"no action reported the first command {first} in 50 steps")
        moving = time.perf_counter()
    return {
        "commands": drafted - started,
        "hello": helloed - drafted,
        "moving": moving - helloed,
        "total": moving - started,
        "steps": seq + 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=load_settings().cache_dir)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--reuse-compile-cache",
        action="store_true",
        help="keep --cache-dir's JAX compilation cache (default: an empty one, as on a first use)",
    )
    args = parser.parse_args()
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]), f"(niceness {os.nice(0)})")
    print(f"load at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"sentences: cold {SENTENCES[0]!r}, warm {SENTENCES[1]!r}")
    model = load_scene(SCENE, args.cache_dir).env.mj_model  # the browser's side, outside the figures
    heads = f"{'warm s':>7} {'commands s':>10} {'hello s':>8} {'moving s':>9} {'steps':>5} {'total s':>8}"
    print(f"{'run':>3} {'sentence':<8} {heads}")
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="robocoach-bench-") as tmp:
            scratch = Path(tmp)
            cache = scene_cache(args.cache_dir, scratch, args.reuse_compile_cache)
            base_id = ship_untrained_base(scratch / "bases", cache)
            env = {"ROBOCOACH_BASES_DIR": str(scratch / "bases")}
            app = start_app(scratch / "data", cache, env=env)
            try:
                opened = urllib.request.Request(  # noqa: S310 (the user has the scene open when typing)
                    f"{app.base}/api/playground/scenes/{SCENE}",
                    headers={"Authorization": f"Bearer {app.token}"},
                )
                with urllib.request.urlopen(opened, timeout=600) as response:  # noqa: S310
                    response.read()
                warmed = user_types(app, base_id)  # the UI sends warm when the scene is selected
                warm_text = f"{warmed:.2f}" if warmed is not None else ">10"
                for kind, sentence in zip(("cold", "warm"), SENTENCES, strict=True):
                    f = one_sentence(app, base_id, model, sentence)
                    print(
                        f"{repeat + 1:>3} {kind:<8} {warm_text if kind == 'cold' else '-':>7} "
                        f"{f['commands']:>10.2f} {f['hello']:>8.2f} {f['moving']:>9.2f} "
                        f"{f['steps']:>5.0f} {f['total']:>8.2f}",
                        flush=True,
                    )
                started = time.perf_counter()
                full = generate(app, SENTENCES[0])  # the old path: reward drafted and validated too
                assert full.training_method == "command", full.training_method
                print(
                    f"{repeat + 1:>3} generate: POST /api/policy/generate (cold reward worker) "
                    f"{time.perf_counter() - started:.2f} s",
                    flush=True,
                )
            finally:
                stop_app(app)
    print(f"load at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
