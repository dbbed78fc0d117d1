"""`robocoach serve` and the command line, run as real subprocesses."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.desktop.conftest import isolated_env, launch, port_is_free, robocoach_command, stop


def test_serve_prints_url_guards_api_and_stops_on_sigterm(
    tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]
) -> None:
    data_dir = tmp_path / "data"
    server = launch(
        ["serve", "--port", "0", "--data-dir", str(data_dir)], isolated_env(home), tmp_path / "err.txt", reap
    )
    assert server.port != 0

    status, body = server.get("/api/health", token=server.token)
    assert status == 200
    assert body["status"] == "ok"
    assert server.get("/api/health")[0] == 401
    assert server.get("/api/health", token="wrong-" + server.token)[0] == 401

    assert stop(server) == 0
    assert port_is_free(server.port)
    # Logs go to a file under the data dir and never contain the token.
    log_files = list(data_dir.rglob("robocoach.log"))
    assert len(log_files) == 1
    log_text = log_files[0].read_text()
    assert "server stopped" in log_text
    assert server.token not in log_text
    assert server.token not in (tmp_path / "err.txt").read_text()


def test_serve_stops_on_ctrl_c(tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]) -> None:
    server = launch(
        ["serve", "--data-dir", str(tmp_path / "data")], isolated_env(home), tmp_path / "err", reap
    )
    assert stop(server, signal.SIGINT) == 0
    assert port_is_free(server.port)


def test_without_a_display_the_window_command_falls_back_to_serve(
    tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]
) -> None:
    server = launch(["--data-dir", str(tmp_path / "data")], isolated_env(home), tmp_path / "err", reap)
    assert "No display found" in "".join(server.stdout_lines)
    assert server.get("/api/health", token=server.token)[0] == 200
    assert stop(server) == 0


def test_non_loopback_host_needs_allow_remote(tmp_path: Path, home: Path) -> None:
    result = subprocess.run(
        [*robocoach_command(), "serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "data")],
        env=isolated_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr
    assert "Robocoach is running" not in result.stdout


def test_allow_remote_serves_and_warns(tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]) -> None:
    server = launch(
        ["serve", "--host", "0.0.0.0", "--allow-remote", "--data-dir", str(tmp_path / "data")],
        isolated_env(home),
        tmp_path / "err.txt",
        reap,
    )
    # The printed URL is one this machine can open; the wildcard address is not.
    assert server.url.startswith("http://127.0.0.1:")
    assert stop(server) == 0
    assert "reachable from other machines" in (tmp_path / "err.txt").read_text()


def test_port_in_use_is_a_clear_error(tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]) -> None:
    first = launch(["serve", "--data-dir", str(tmp_path / "a")], isolated_env(home), tmp_path / "a.txt", reap)
    result = subprocess.run(
        [*robocoach_command(), "serve", "--port", str(first.port), "--data-dir", str(tmp_path / "b")],
        env=isolated_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{first.port}" in result.stderr
    assert "Robocoach is running" not in result.stdout
    assert stop(first) == 0


def test_python_dash_m_desktop_shows_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "--allow-remote" in result.stdout
