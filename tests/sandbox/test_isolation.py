"""A confined worker that ran hostile code still cannot reach the keys, the token or the network.

Each worker's own confinement (trace, training, inference) is applied in a real child process started
the way the server starts workers (`worker_env`), whose parent - this test - holds what an attacker
wants: an API key in its environment, a saved-keys file, a listening socket (handed down on purpose, as
the server used to), and a data folder. The child then tries each way out (server.sandbox.probe).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from server.sandbox import landlock
from server.sandbox.environment import worker_env
from server.sandbox.escape import Attempt

pytestmark = pytest.mark.skipif(
    landlock.abi_version() < 4, reason="this kernel has no Landlock with TCP rules (Linux >= 6.7)"
)
SECRET = "sk-ant-isolation-test-must-not-leak"


@pytest.fixture
def parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[socket.socket, Path]]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    data = tmp_path / "data"
    (data / "jobs" / "job1").mkdir(parents=True)
    (data / "llm_keys.json").write_text(json.dumps({"anthropic": SECRET}))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.set_inheritable(True)
    yield listener, data
    listener.close()


def probe(role: str, folders: list[Path], attempts: list[Attempt], listener: socket.socket) -> dict[str, str]:
    arguments = [str(f) for f in folders] + ["--", msgspec.json.encode(attempts).decode()]
    result = subprocess.run(
        [sys.executable, "-m", "server.sandbox.probe", role, *arguments],
        env=worker_env(),
        pass_fds=(listener.fileno(),),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "sandbox: enforced" in result.stderr and "NOT enforced" not in result.stderr, result.stderr
    decoded: dict[str, str] = json.loads(result.stdout)
    return decoded


def escapes(listener: socket.socket, data: Path) -> list[Attempt]:
    return [
        Attempt("read", f"/proc/{os.getpid()}/environ"),
        Attempt("read", f"/proc/{os.getpid()}/cmdline"),
        Attempt("read", str(data / "llm_keys.json")),
        Attempt("write", str(data / "planted.txt")),
        Attempt("write", str(Path.home() / "robocoach-escape.txt")),
        Attempt("connect", str(listener.getsockname()[1])),
        Attempt("accept", str(listener.fileno())),
        Attempt("signal", str(os.getpid())),
    ]


@pytest.mark.parametrize("role", ["trace", "training", "inference"])
def test_every_escape_fails_in_each_worker(role: str, parent: tuple[socket.socket, Path]) -> None:
    listener, data = parent
    job = data / "jobs" / "job1"
    cache = data.parent / "cache"
    (cache / "jax-compilation").mkdir(parents=True)
    folders = {
        "trace": [cache / "menagerie", cache / "jax-compilation"],
        "training": [job],
        "inference": [data / "policies" / "p1", cache],
    }[role]
    results = probe(role, folders, escapes(listener, data), listener)
    allowed = {what: outcome for what, outcome in results.items() if not outcome.startswith("denied")}
    assert not allowed, allowed
    assert not (data / "planted.txt").exists() and not (Path.home() / "robocoach-escape.txt").exists()
    # The leaked socket is closed before any worker code runs, so its number names nothing.
    assert "Bad file descriptor" in results[f"accept {listener.fileno()}"]


def test_a_training_worker_still_writes_its_job_folder(parent: tuple[socket.socket, Path]) -> None:
    listener, data = parent
    job = data / "jobs" / "job1"
    results = probe(
        "training",
        [job],
        [Attempt("write", str(job / "checkpoint.msgpack")), Attempt("write", str(job.parent / "other.txt"))],
        listener,
    )
    assert results[f"write {job / 'checkpoint.msgpack'}"] == "allowed"
    assert results[f"write {job.parent / 'other.txt'}"].startswith("denied")
    assert (job / "checkpoint.msgpack").read_bytes() == b"escaped"


def test_a_worker_removes_the_private_tmp_folders_of_killed_workers(
    parent: tuple[socket.socket, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed worker never runs its atexit, and none can remove its own folder under Landlock: the next
    worker to start removes what the dead ones left."""
    listener, data = parent
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphan = tmp / f"robocoach-worker-{gone.pid}-abc123"
    orphan.mkdir()
    (orphan / "xla-dump.bin").write_bytes(b"left behind")
    live = tmp / f"robocoach-worker-{os.getpid()}-def456"  # a running worker's: kept
    live.mkdir()
    unrelated = tmp / "robocoach-worker-notapid"
    unrelated.mkdir()
    probe("training", [data / "jobs" / "job1"], [], listener)
    assert not orphan.exists()
    assert live.is_dir() and unrelated.is_dir()
    (first,) = set(tmp.iterdir()) - {live, unrelated}  # the worker's own, emptied at its exit
    assert list(first.iterdir()) == []
    probe("training", [data / "jobs" / "job1"], [], listener)
    (second,) = set(tmp.iterdir()) - {live, unrelated}
    assert second != first and not first.exists()
