"""A server killed with SIGKILL leaves no worker behind, so the next launch gets the same port."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from tests.desktop.conftest import isolated_env, launch, port_is_free, stop


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_die_with_a_killed_server_and_the_port_is_free_again(
    tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]
) -> None:
    # Scenes are built (the validation below waits for Cartpole, first in the queue), so the scene
    # export workers are running too when the server dies.
    env = isolated_env(home, ROBOCOACH_BUILD_SCENES="1")
    server = launch(["serve", "--data-dir", str(tmp_path / "data")], env, tmp_path / "err1", reap)
    body = json.dumps(
        {"scene_id": "CartpoleBalance", "program": "WEIGHTS = dict(t=1.0)\ndef t(s):\n    return 1.0\n"}
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/rewards/validate",
        data=body.encode(),
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
    )
    # The validation starts the trace worker; its answer does not matter here (the server dies first).
    threading.Thread(target=lambda: _quietly(request), daemon=True).start()
    deadline = time.monotonic() + 180
    workers: list[int] = []
    while not any("trace_worker" in _cmdline(c) for c in workers) and time.monotonic() < deadline:
        workers = _children(server.process.pid)
        time.sleep(0.2)
    assert any("trace_worker" in _cmdline(c) for c in workers), "the trace worker never started"

    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "a worker outlived its server"
    assert port_is_free(server.port)

    again = launch(
        ["serve", "--port", str(server.port), "--data-dir", str(tmp_path / "data")],
        env,
        tmp_path / "err2",
        reap,
    )
    assert again.port == server.port
    assert again.get("/api/health", token=again.token)[0] == 200
    assert stop(again) == 0


def _quietly(request: urllib.request.Request) -> None:
    with contextlib.suppress(OSError):
        urllib.request.urlopen(request, timeout=120).read()
