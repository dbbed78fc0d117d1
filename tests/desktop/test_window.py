"""The real desktop window (pywebview + Qt WebEngine) under Xvfb, closed the ways a user closes it.

Xvfb has no window manager, so nothing turns a click on the title bar's "x" or Alt+F4 into a close
request. Measured with xdotool 3.2016: `key --window ID ctrl+q` (a synthetic XSendEvent, ignored by
Qt), `windowclose` (XDestroyWindow: the window vanishes but the process keeps running) and
`windowactivate` (needs a WM) do not close it. What works: focusing the window and typing Ctrl+Q
through XTEST (the window's own shortcut), and sending WM_DELETE_WINDOW, which is exactly what a window
manager sends when the user clicks "x".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.desktop.conftest import Launched, isolated_env, launch, port_is_free

pytestmark = pytest.mark.desktop

# Qt WebEngine with software GL on 2 cores, plus the UI's first frame, can be slow on a cold start.
UI_READY_TIMEOUT = 120.0
EXIT_TIMEOUT = 20.0


def open_window(
    display: str,
    tmp_path: Path,
    home: Path,
    reap: list[subprocess.Popen[str]],
    *,
    scene_cache: Path | None = None,
) -> Launched:
    """`scene_cache`: run with the session's exported scenes, as a real (second) launch does; the UI draws
    (and reports its first frame) only once a scene is ready. The close tests do not need scenes."""
    scenes = {"ROBOCOACH_BUILD_SCENES": "1", "ROBOCOACH_CACHE_DIR": str(scene_cache)} if scene_cache else {}
    env = isolated_env(home, DISPLAY=display, **scenes)
    return launch(
        ["--software-gl", "--data-dir", str(tmp_path / "data")],
        env,
        tmp_path / "stderr.txt",
        reap,
        timeout=UI_READY_TIMEOUT,
    )


def wait_for_client_report(app: Launched, stderr_path: Path) -> dict[str, Any]:
    """The UI posts {webgl, webgl_renderer, user_agent} after its first rendered frame."""
    deadline = time.monotonic() + UI_READY_TIMEOUT
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            pytest.fail(f"robocoach exited with {app.process.returncode}:\n{stderr_path.read_text()}")
        status, body = app.get("/api/diagnostics", token=app.token)
        assert status == 200
        if body.get("client"):
            client: dict[str, Any] = body["client"]
            return client
        time.sleep(0.5)
    pytest.fail(
        f"the page reported no first frame within {UI_READY_TIMEOUT:.0f} s:\n{stderr_path.read_text()}"
    )


def find_window(display: str, title: str = "Robocoach") -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = subprocess.run(
            # Visible only: Qt also creates an unmapped 1x1 leader window named after argv[0], and
            # xdotool's name match ignores case, so "robocoach" would match too.
            ["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"],
            env={"DISPLAY": display},
            capture_output=True,
            text=True,
        ).stdout.split()
        if found:
            assert len(found) == 1, f"expected one {title} window, found {found}"
            return found[0]
        time.sleep(0.2)
    pytest.fail(f"no X window named {title!r}")


# Grabs the X screen with Qt (no ImageMagick needed), saves it, and prints how many distinct colours a
# 32x20 grid of samples has: a blank window (the failure mode without software compositing) gives 1-2.
_GRAB_SCRIPT = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(["grab", "-platform", "xcb"])
image = app.primaryScreen().grabWindow(0).toImage()
image.save(sys.argv[1])
w, h = image.width(), image.height()
print(len({image.pixel(x * w // 32, y * h // 20) for x in range(32) for y in range(20)}))
"""


def screenshot(display: str, path: Path) -> int:
    """Saves the whole X screen as PNG; returns the number of distinct colours in a sample grid."""
    result = subprocess.run(
        [sys.executable, "-c", _GRAB_SCRIPT, str(path)],
        env={**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(result.stdout.split()[-1])


class _XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _XClientMessageEvent), ("pad", ctypes.c_long * 24)]


def send_wm_delete_window(display: str, window_id: int) -> None:
    """What a window manager sends when the user clicks the close button (ICCCM WM_DELETE_WINDOW)."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    assert dpy, f"cannot open X display {display}"
    try:
        event = _XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window_id
        event.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        event.xclient.data[1] = 0  # CurrentTime
        assert x11.XSendEvent(dpy, window_id, 0, 0, ctypes.byref(event)) != 0
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)


def assert_clean_exit(app: Launched, stderr_path: Path) -> None:
    try:
        code = app.process.wait(EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"robocoach still running {EXIT_TIMEOUT:.0f} s after the close:\n{stderr_path.read_text()}"
        )
    assert code == 0, stderr_path.read_text()
    assert port_is_free(app.port)
    assert "server stopped" in stderr_path.read_text()


def test_window_shows_the_ui_with_webgl_and_ctrl_q_closes_it(
    xvfb_display: str, tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]], scene_cache: Path
) -> None:
    started = time.monotonic()
    app = open_window(xvfb_display, tmp_path, home, reap, scene_cache=scene_cache)
    url_after = time.monotonic() - started
    client = wait_for_client_report(app, tmp_path / "stderr.txt")
    frame_after = time.monotonic() - started
    print(f"URL line after {url_after:.1f} s, first frame reported after {frame_after:.1f} s")
    print(f"client report: {client}")
    assert client["webgl"] is True
    assert "QtWebEngine" in client["user_agent"]  # the report came from the window, not some browser
    colours = screenshot(xvfb_display, tmp_path / "window.png")
    print(f"screenshot {tmp_path / 'window.png'}: {colours} distinct colours in the sample grid")
    assert colours > 4, "the window looks blank"

    window = find_window(xvfb_display)
    # XTEST key presses go to the focused window; without a WM, windowfocus sets X input focus directly.
    subprocess.run(
        ["xdotool", "windowfocus", "--sync", window, "key", "ctrl+q"],
        env={"DISPLAY": xvfb_display},
        check=True,
    )
    assert_clean_exit(app, tmp_path / "stderr.txt")
    assert "window closed" in (tmp_path / "stderr.txt").read_text()


def test_window_manager_close_request_closes_it(
    xvfb_display: str, tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]
) -> None:
    app = open_window(xvfb_display, tmp_path, home, reap)
    window = find_window(xvfb_display)
    send_wm_delete_window(xvfb_display, int(window))
    assert_clean_exit(app, tmp_path / "stderr.txt")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_close_the_window(
    sig: signal.Signals, xvfb_display: str, tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]
) -> None:
    app = open_window(xvfb_display, tmp_path, home, reap)
    find_window(xvfb_display)  # the window is up, so the signal must go through closing it
    app.process.send_signal(sig)
    assert_clean_exit(app, tmp_path / "stderr.txt")
    assert f"received {sig.name}; closing the window" in (tmp_path / "stderr.txt").read_text()
