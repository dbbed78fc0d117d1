"""The desktop window: pywebview on its Qt backend (Qt WebEngine) showing the in-process server's page.

Qt WebEngine reads its environment once, when it is imported, so `configure_qt_environment` must run
before anything imports `webview` or Qt; that is why `webview` is imported inside `run_window`.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

TITLE = "Robocoach"
SIZE = (1280, 800)
MIN_SIZE = (800, 560)
# Without a GPU, WebGL needs the blocklist ignored (SwiftShader is blocklisted) and software
# compositing; without the second flag the page stays blank under Xvfb (measured; docs/ARCHITECTURE.md).
SOFTWARE_GL_FLAGS = "--ignore-gpu-blocklist --disable-gpu-compositing"


def needs_software_gl(env: Mapping[str, str], render_nodes: list[str]) -> tuple[bool, str]:
    """Whether to force the software GL flags, and why (for the log)."""
    if env.get("LIBGL_ALWAYS_SOFTWARE", "") not in ("", "0"):
        return True, "LIBGL_ALWAYS_SOFTWARE is set"
    if sys.platform.startswith("linux"):
        if not render_nodes:
            return True, "no GPU render node (/dev/dri/renderD*)"
        if _display_is_xvfb(env.get("DISPLAY", "")):
            return True, "the display is Xvfb"
    return False, "a GPU is available"


def _display_is_xvfb(display: str) -> bool:
    """True when an Xvfb process serves `display` (e.g. ':99'); Xvfb has no GPU behind it."""
    if not display.startswith(":"):
        return False
    number = display[1:].split(".")[0]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended while we looked
            continue
        if args and args[0].rsplit(b"/", 1)[-1] == b"Xvfb" and f":{number}".encode() in args:
            return True
    return False


def configure_qt_environment(software_gl: bool, env: MutableMapping[str, str] | None = None) -> None:
    """Sets the variables Qt and Qt WebEngine read at import time. Call before importing webview."""
    env = os.environ if env is None else env
    env["QT_API"] = "pyside6"  # qtpy (used by pywebview) would otherwise pick any installed binding
    auto, reason = needs_software_gl(env, [str(p) for p in Path("/dev/dri").glob("renderD*")])
    if software_gl or auto:
        log.info("software WebGL: %s", "--software-gl" if software_gl else reason)
        current = env.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        missing = [flag for flag in SOFTWARE_GL_FLAGS.split() if flag not in current.split()]
        env["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join([*current.split(), *missing])
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to start its sandbox as root.
        env["QTWEBENGINE_DISABLE_SANDBOX"] = "1"


def run_window(url: str, stop: threading.Event) -> None:
    """Shows the window and blocks until it is closed (by the user, Ctrl+Q, SIGTERM or SIGINT).

    Must run on the main thread. SIGTERM and SIGINT close the window the same way the user does, so
    every path goes through Qt's closeEvent and returns from here. `stop` is set by a signal that came
    before this function took the handlers over; then no window opens.
    """
    import webview

    window = webview.create_window(TITLE, url, width=SIZE[0], height=SIZE[1], min_size=MIN_SIZE)
    if window is None:
        raise RuntimeError("pywebview did not create the window")

    def request_close(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; closing the window", signal.Signals(signum).name)
        stop.set()
        # window.destroy() waits until the window is shown; never block the main thread doing that.
        threading.Thread(target=window.destroy, name="close-window", daemon=True).start()

    def on_before_show(window: Any) -> None:
        # Runs on the GUI thread, inside the Qt main window's constructor.
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QKeySequence, QShortcut

        native = window.native
        # Ctrl+Q closes the window like its close button. It is also how tests close it under Xvfb,
        # where no window manager exists to turn a click on "x" or Alt+F4 into a close request.
        shortcut = QShortcut(QKeySequence("Ctrl+Q"), native)
        shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        shortcut.activated.connect(native.close)
        # pywebview's own SIGINT handler quits the Qt loop without closing the window; ours closes it.
        signal.signal(signal.SIGINT, request_close)

    window.events.before_show += on_before_show
    # pywebview keeps a Python timer ticking in the Qt loop, so this handler runs within ~0.5 s.
    signal.signal(signal.SIGTERM, request_close)
    signal.signal(signal.SIGINT, request_close)  # until pywebview installs its own; see on_before_show
    if stop.is_set():
        log.info("stop requested before the window opened")
        return
    log.info("opening the window")
    from desktop.entry import icon_path

    icon = icon_path()
    webview.start(gui="qt", icon=str(icon) if icon is not None else None)
    log.info("window closed")
