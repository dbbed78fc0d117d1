"""Launch the real `robocoach` command as a subprocess, as a user (or a shell script) would."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

URL_LINE = re.compile(r"Robocoach is running at (http://127\.0\.0\.1:(\d+)/\?token=(\S+))")


def robocoach_command() -> list[str]:
    """The installed console script when present, else the same entry point through `python -m`."""
    script = Path(sys.executable).parent / "robocoach"
    return [str(script)] if script.exists() else [sys.executable, "-m", "desktop"]


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """No display, no ROBOCOACH_* leaking in from the developer's shell, platformdirs under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBOCOACH_")}
    for key in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(key, None)
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        # Exporting every Playground scene at start-up is the scenes tests' job, and slow on 2 cores.
        ROBOCOACH_BUILD_SCENES="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Launched:
    process: subprocess.Popen[str]
    url: str
    port: int
    token: str
    stdout_lines: list[str]  # up to and including the URL line

    def get(self, path: str, *, token: str | None = None) -> tuple[int, Any]:
        """GET on the launched server; returns (status, parsed JSON body or None)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, None


def launch(
    args: list[str],
    env: dict[str, str],
    stderr_path: Path,
    reap: list[subprocess.Popen[str]],
    timeout: float = 60.0,
    command: list[str] | None = None,
) -> Launched:
    """Starts robocoach (`command`, default the source install's) and waits for its URL line on stdout;
    `reap` kills it if the test fails."""
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [*(command or robocoach_command()), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    reap.append(process)
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)  # stdout closed: the process has exited

    threading.Thread(target=read_stdout, daemon=True).start()
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        match = URL_LINE.search(line)
        if match:
            return Launched(process, match.group(1), int(match.group(2)), match.group(3), seen)
    process.kill()
    process.wait()
    raise AssertionError(f"no URL line; stdout={seen!r}; stderr:\n{stderr_path.read_text()}")


def port_is_free(port: int) -> bool:
    """True when a new server could listen on the port (SO_REUSEADDR, as servers do: TIME_WAIT is fine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen(1)
        except OSError:
            return False
    return True


def stop(launched: Launched, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> int:
    launched.process.send_signal(sig)
    return launched.process.wait(timeout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def reap() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started; any still running at the end are killed, so a failure leaks nothing."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def _free_display_number() -> int:
    for number in range(90, 200):
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    raise RuntimeError("no free X display number in :90-:199")


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A private Xvfb display (1280x800, 24-bit) for the whole session; no window manager runs on it."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb); the desktop window tests need it")
    if shutil.which("xdotool") is None:
        pytest.skip(
            "xdotool is not installed (apt-get install xdotool); it closes the window as a user would"
        )
    number = _free_display_number()
    display = f":{number}"
    xvfb = subprocess.Popen(
        # -noreset: an X server resets when its last client leaves, and a window started during the reset
        # cannot connect ("could not connect to display"; once in a full run, between two window tests).
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket_path = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 15
    while not socket_path.exists():
        if xvfb.poll() is not None or time.monotonic() > deadline:
            xvfb.kill()
            raise RuntimeError(f"Xvfb {display} did not start")
        time.sleep(0.05)
    yield display
    xvfb.terminate()
    xvfb.wait(10)
