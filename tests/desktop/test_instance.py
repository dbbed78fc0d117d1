"""One Robocoach per data dir (desktop/instance.py), with real `robocoach` processes: a second copy finds
the first and does not start a server of its own on the same SQLite file and job folders."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from desktop.cli import _answers
from desktop.instance import INFO_FILE, InstanceLock, running_instance
from tests.desktop.conftest import isolated_env, launch, robocoach_command, stop


def test_second_serve_prints_the_running_url_and_leaves_the_first_alone(
    tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]
) -> None:
    data_dir = tmp_path / "data"
    env = isolated_env(home)
    first = launch(["serve", "--data-dir", str(data_dir)], env, tmp_path / "err1", reap)
    info = data_dir / INFO_FILE
    assert stat.S_IMODE(info.stat().st_mode) == 0o600  # it holds the token
    assert json.loads(info.read_text()) == {"pid": first.process.pid, "url": first.url}

    second = subprocess.run(
        [*robocoach_command(), "serve", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 0, second.stderr
    assert f"Robocoach is already running at {first.url}" in second.stdout
    assert first.process.poll() is None
    assert first.get("/api/health", token=first.token)[0] == 200
    assert _answers(first.url)  # what a second window command checks before opening onto it

    # `robocoach train` on the same data dir would resume (and kill) the app's jobs: it refuses.
    program = tmp_path / "reward.py"
    program.write_text("WEIGHTS = {}\n")
    train = subprocess.run(
        [
            *robocoach_command(),
            "train",
            "--data-dir",
            str(data_dir),
            "--scene",
            "CartpoleBalance",
            "--reward",
            str(program),
            "--no-check",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert train.returncode == 1
    assert f"Robocoach is running on {data_dir}" in train.stderr

    assert stop(first) == 0
    assert not info.exists()  # a clean exit takes it away
    third = launch(["serve", "--data-dir", str(data_dir)], env, tmp_path / "err3", reap)
    assert third.url != first.url  # a server of its own
    assert stop(third) == 0
    for log in data_dir.rglob("*.log"):
        assert first.token not in log.read_text() and third.token not in log.read_text(), log


def test_a_stale_instance_file_is_ignored(
    tmp_path: Path, home: Path, reap: list[subprocess.Popen[str]]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # What a killed instance leaves: the file, but nobody holds the lock.
    (data_dir / INFO_FILE).write_text(json.dumps({"pid": 999999, "url": "http://127.0.0.1:9/?token=old"}))
    (data_dir / "instance.lock").touch()
    assert running_instance(data_dir, wait_s=0) is None
    server = launch(["serve", "--data-dir", str(data_dir)], isolated_env(home), tmp_path / "err", reap)
    assert json.loads((data_dir / INFO_FILE).read_text())["pid"] == server.process.pid
    assert stop(server) == 0


def test_a_holder_that_does_not_answer_is_reported_by_the_window_command(
    tmp_path: Path, home: Path, xvfb_display: str
) -> None:
    """The window command opens a second window onto the running instance only when it answers; else it
    says so and exits 1 (no window opens here: the 'instance' is this test, serving nothing)."""
    data_dir = tmp_path / "data"
    lock = InstanceLock.acquire(data_dir)
    assert lock is not None
    assert InstanceLock.acquire(data_dir) is None  # flock: even this process's second open is refused
    try:
        lock.publish("http://127.0.0.1:9/?token=secret-token")
        result = subprocess.run(
            [*robocoach_command(), "--data-dir", str(data_dir)],
            env=isolated_env(home, DISPLAY=xvfb_display),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        lock.release()
    assert result.returncode == 1
    assert "does not answer" in result.stdout
    assert "secret-token" not in result.stdout + result.stderr
