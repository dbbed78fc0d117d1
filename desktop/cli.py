"""`robocoach`: opens the desktop window; `robocoach serve`: the same server without a window;
`robocoach train`: drafts or reads a reward program and trains a policy in this process, no server;
`robocoach install-desktop`: adds Robocoach to the desktop's application menu; `robocoach --version`.

`robocoach --worker MODULE ARGS...` runs one of the app's worker processes (server/workers.py): that is how
the frozen app, which has no `python`, starts them. It is dispatched before anything else is imported.

Everything heavier than the standard library is imported inside `main`, after that dispatch, so a worker,
`--help` and `--version` start fast."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.instance import InstanceLock
    from desktop.server_thread import ServerThread

log = logging.getLogger("desktop")

EXIT_USAGE = 2  # argparse's own code for bad arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robocoach",
        description="Teach a simulated robot a new behaviour by describing it in plain language.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=("window", "serve", "train", "install-desktop"),
        default="window",
        help="'window' (default) opens the desktop window; 'serve' only runs the server and prints its URL; "
        "'train' trains a policy from the command line; 'install-desktop' adds Robocoach (with its icon) "
        "to your desktop's application menu",
    )
    parser.add_argument("--version", action="version", version=f"robocoach {app_version()}")
    parser.add_argument("--data-dir", type=Path, help="keep data, logs and cache under this folder")
    parser.add_argument("--port", type=int, help="port to listen on (default: a free one)")
    parser.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow listening on a non-loopback address (anyone who can reach it and has the token gets in)",
    )
    parser.add_argument(
        "--software-gl",
        action="store_true",
        help="force software WebGL in the window (automatic when no GPU or under Xvfb)",
    )
    train = parser.add_argument_group("train")
    train.add_argument("--scene", help="scene id to train on, e.g. CartpoleBalance")
    train.add_argument("--task", help="the behaviour in plain language; drafted with the configured provider")
    train.add_argument("--reward", type=Path, help="a reward program file to train with instead of --task")
    train.add_argument("--name", default="", help="the saved policy's name")
    train.add_argument("--timesteps", type=int, help="environment steps (default: the preset's)")
    train.add_argument("--preset", default="auto", choices=("auto", "cpu_quick", "cpu", "playground"))
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--minutes",
        type=_bounded(float, 0, 7 * 24 * 60, low_open=True),
        help="time cap: stop after this many minutes and keep the best policy so far",
    )
    checks = train.add_mutually_exclusive_group()
    checks.add_argument(
        "--check",
        type=Path,
        help="a success check file (docs/CHECKS.md) instead of the one drafted from --task",
    )
    checks.add_argument("--no-check", action="store_true", help="train without a success check")
    train.add_argument(
        "--no-early-stop", action="store_true", help="train the whole budget even once the check has passed"
    )
    train.add_argument(
        "--rounds",
        type=_bounded(int, 0, 5),
        help="reflection rounds: revise the reward and train again while the check fails (default 2)",
    )
    train.add_argument(
        "--budget",
        default="fast",
        choices=("fast", "medium", "unlimited"),
        help="how long you will wait: fast plays a base with commands or fine-tunes one when it can, medium "
        "fine-tunes a base when there is one, unlimited trains from scratch (default: fast)",
    )
    train.add_argument(
        "--tier",
        choices=("command", "fine_tuning", "full_training"),
        help="force a tier instead of the planner's choice (refused with the reason when it cannot run)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"), help="default: info"
    )
    return parser


def _bounded(
    kind: Callable[[str], float], low: float, high: float, *, low_open: bool = False
) -> Callable[[str], float]:
    """An argparse type: `kind(text)` within [low, high] ((low, high] with low_open), else a usage error."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (low < value if low_open else low <= value) or value > high:
            bound = f"more than {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text} must be {bound} and at most {high:g}")
        return value

    return parse


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("robocoach")
    except PackageNotFoundError:
        return "unknown"


def run_worker(argv: list[str]) -> int:
    """`--worker MODULE ARGS...`: runs the worker module as `python -m MODULE ARGS...` would."""
    import runpy

    from server.workers import WORKER_MODULES

    if not argv or argv[0] not in WORKER_MODULES:
        name = argv[0] if argv else "(none)"
        known = ", ".join(sorted(WORKER_MODULES))
        print(f"robocoach --worker: {name} is not one of Robocoach's workers ({known})", file=sys.stderr)
        return EXIT_USAGE
    sys.argv = list(argv)
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
    return 0


def has_display() -> bool:
    """False on a Linux machine with neither X11 nor Wayland (ssh session, container, CI)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def page_url(host: str, port: int, token: str) -> str:
    # A wildcard address is not somewhere a browser can go; this machine reaches it on loopback.
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - comparing, not binding
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/?token={token}"


def _say(message: str) -> None:
    """One line for the person (or test) that started us; stdout is None in a windowed frozen build."""
    if sys.stdout is not None:
        print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the scene lanes' spawned processes re-enter here in a frozen build
    from server.workers import WORKER_FLAG  # standard library only: a worker still starts fast

    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == [WORKER_FLAG]:
        return run_worker(arguments[1:])  # a worker process: none of the server's set-up below

    from server.sandbox.confine import protect_server_process

    protect_server_process()  # before any key is read into this process
    parser = build_parser()
    args = parser.parse_args(argv)

    if args.command == "install-desktop":
        from desktop.entry import install_desktop_entry

        for line in install_desktop_entry():
            _say(line)
        return 0

    from desktop.server_thread import is_loopback

    if args.host is not None and not is_loopback(args.host) and not args.allow_remote:
        parser.error(f"--host {args.host} is reachable from other machines; add --allow-remote to allow it")

    if args.command == "train":
        if not args.scene or (args.task is None) == (args.reward is None):
            parser.error("train needs --scene and exactly one of --task or --reward")
        from desktop.train import run_train

        return run_train(args)

    # Imported here so `robocoach --help` and argument errors stay fast.
    import msgspec

    from desktop.instance import InstanceLock
    from desktop.logs import redact_url, setup_logging
    from desktop.server_thread import ServerStartupError, ServerThread, bind_socket, bound_port
    from server.settings import load_settings

    settings = load_settings(
        data_dir=args.data_dir, host=args.host, port=args.port, allow_remote=args.allow_remote
    )
    if not is_loopback(settings.host) and not settings.allow_remote:
        parser.error(
            f"host {settings.host} (from ROBOCOACH_HOST) is reachable from other machines; "
            "add --allow-remote to allow it"
        )
    log_path = setup_logging(settings.state_dir, args.log_level, settings.token)

    mode = args.command
    if mode == "window" and not has_display():
        _say("No display found (DISPLAY and WAYLAND_DISPLAY are unset): running without a window.")
        mode = "serve"
    instance = _claim_data_dir(settings.data_dir)
    if not isinstance(instance, InstanceLock):
        return _join_running(instance, mode, args.software_gl)
    from server.app import create_app  # the second copy above never needs it

    if mode == "window":
        # Qt reads these when it is first imported, which must not have happened yet.
        from desktop.window import configure_qt_environment

        configure_qt_environment(args.software_gl)

    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        log.error("Cannot listen on %s:%d: %s", settings.host, settings.port, exc.strerror)
        return 1
    # The app's Host check compares against the real port, so it must be known before create_app.
    settings = msgspec.structs.replace(settings, port=bound_port(sock))
    if not is_loopback(settings.host):
        log.warning(
            "listening on %s:%d, reachable from other machines: share the token only with people you trust",
            settings.host,
            settings.port,
        )
    # Handlers go in before the URL line is printed: whoever reads it may signal us right away.
    stop = _install_stop_handlers()
    app = create_app(settings)
    server = ServerThread(app, sock, log_level=args.log_level)
    try:
        server.start()
    except ServerStartupError as exc:
        log.error("Robocoach could not start: %s. Log: %s", exc, log_path)
        return 1

    url = page_url(settings.host, settings.port, settings.token)
    instance.publish(url)
    log.info("serving %s (log file %s)", redact_url(url), log_path)
    _say(f"Robocoach is running at {url}")
    stopped_cleanly = True
    try:
        if mode == "window":
            from desktop.window import run_window

            run_window(url, stop)
        else:
            stopped_cleanly = _wait_for_stop(stop, server)
    finally:
        server.stop()
        instance.release()
    return 0 if stopped_cleanly else 1


def _claim_data_dir(data_dir: Path) -> InstanceLock | str | None:
    """This process's hold on the data dir, or the URL of the instance that holds it (None: it holds it but
    never said where it serves)."""
    from desktop.instance import InstanceLock, running_instance

    for _ in range(3):  # the holder may exit between our try and our look: then the data dir is ours
        lock = InstanceLock.acquire(data_dir)
        if lock is not None:
            return lock
        running = running_instance(data_dir)
        if running is not None:
            return running.url
    return None


def _join_running(url: str | None, mode: str, software_gl: bool) -> int:
    """A second copy on a data dir another instance serves: `serve` says where it runs; the window opens
    onto it (a second window of the same app), after checking that it answers."""
    from desktop.logs import redact_url

    if url is None:
        _say(
            "Another Robocoach holds this data dir but does not say where it serves: "
            "close it, or use --data-dir."
        )
        return 1
    log.info("another Robocoach serves this data dir at %s", redact_url(url))
    if mode == "serve":
        _say(f"Robocoach is already running at {url}")
        return 0
    if not _answers(url):
        _say(
            f"Another Robocoach holds this data dir but does not answer at {redact_url(url)}; "
            "close it (or wait until it has stopped) and try again, or use --data-dir."
        )
        return 1
    from desktop.window import configure_qt_environment, run_window

    configure_qt_environment(software_gl)
    _say(f"Robocoach is already running at {url}: opening a window onto it")
    run_window(url, _install_stop_handlers())
    return 0


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except OSError:
        return False


def _install_stop_handlers() -> threading.Event:
    """SIGINT (Ctrl+C) and SIGTERM set the returned event instead of killing the process mid-way."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _wait_for_stop(stop: threading.Event, server: ServerThread) -> bool:
    """Blocks until a stop signal (True), or until the server thread ends on its own (False)."""
    # A timed wait lets the handlers run promptly and notices a server that died by itself.
    while not stop.wait(0.5):
        if not server.is_alive():
            log.error("the server stopped unexpectedly")
            return False
    return True
