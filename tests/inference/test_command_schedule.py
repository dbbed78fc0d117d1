"""The command tier through the real WebSocket: a Go1 joystick policy (untrained weights: the mechanism,
not the gait) driven by a SetSchedule; the env's own state reports the command it saw at each step."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from server.commands.schedule import command_at
from server.commands.types import CommandSchedule, CommandSegment
from server.inference.protocol import (
    Action,
    Episode,
    Error,
    Reset,
    SetCommand,
    SetSchedule,
    Status,
    decode_server,
    encode,
)
from server.inference.session import PlaybackSession
from server.inference.worker import handle
from server.training.runner import load_scene
from tests.conftest import make_client
from tests.inference.browser import Browser
from tests.inference.policies import app_with_untrained_policy
from tests.inference.test_playback_api import Socket, connect

SCENE = "Go1JoystickFlatTerrain"  # ctrl_dt 0.02 s; command [forward, sideways, turn] within +-[1.5, 0.8, 1.2]


def seg(duration_s: float, label: str, **command: float) -> CommandSegment:
    return CommandSegment(duration_s=duration_s, command=command, label=label)


# Boundaries at steps 5 and 8; the last segment asks for more than the env's range and is held after 0.26 s.
SCHEDULE = CommandSchedule(
    segments=[
        seg(0.1, "walk forward", forward=1.0),
        seg(0.06, "turn right", turn=-0.5),
        seg(0.1, "sidestep fast", sideways=5.0),
    ]
)
EXPECTED = {0: [1.0, 0.0, 0.0], 4: [1.0, 0.0, 0.0], 5: [0.0, 0.0, -0.5], 7: [0.0, 0.0, -0.5]}
EXPECTED |= {8: [0.0, 0.8, 0.0], 13: [0.0, 0.8, 0.0], 20: [0.0, 0.8, 0.0]}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, Any]]:
    # Playback needs only the Menagerie folder in the cache, not the exported scene list.
    root = tmp_path_factory.mktemp("schedule")
    cache = root / "cache"
    settings, policy_id = app_with_untrained_policy(root, SCENE, cache)
    model = load_scene(SCENE, cache).env.mj_model
    with make_client(settings) as client:
        yield client, policy_id, model


def run(socket: Socket, browser: Browser, steps: int) -> dict[int, list[float]]:
    """Reset, then `steps` control intervals: the command each reply reports, by its step."""
    socket.send(Reset(seed=2))
    episode = socket.receive()
    assert isinstance(episode, Episode) and episode.command is not None
    browser.start(episode)
    seen = {0: episode.command}
    for seq in range(steps):
        socket.send(browser.interval(seq))
        action = socket.receive()
        assert isinstance(action, Action), action
        assert action.command is not None
        seen[action.step] = action.command
        browser.apply(action)
    return seen


def test_playback_follows_the_schedule_segment_by_segment(setup: tuple[Any, str, Any]) -> None:
    client, policy_id, model = setup
    with connect(client, policy_id) as ws:
        socket = Socket(ws)
        hello = socket.open()
        assert hello.command is not None and hello.command.keys == ["forward", "sideways", "turn"]
        assert hello.ctrl_dt == pytest.approx(0.02)
        browser = Browser(model, hello)

        socket.send(SetSchedule(schedule=SCHEDULE))
        status = socket.receive()
        assert isinstance(status, Status) and status.phase == "ready"
        assert "3 segments, 0.26 s" in status.message
        assert "segment 3 ('sidestep fast'): sideways 5 m/s is outside [-0.8, 0.8]: clipped to 0.8" in (
            status.message
        )

        seen = run(socket, browser, 20)
        for step, command in EXPECTED.items():
            assert seen[step] == pytest.approx(command), f"step {step}"
        report_spec = hello.command
        for step, command in seen.items():  # every step, not only the boundaries
            want = command_at(SCHEDULE, report_spec, step * hello.ctrl_dt)
            assert command == pytest.approx(want, abs=1e-6), f"step {step}"

        # Each Reset plays the schedule from its start again.
        again = run(socket, browser, 6)
        assert again[0] == pytest.approx([1.0, 0.0, 0.0]) and again[5] == pytest.approx([0.0, 0.0, -0.5])


def test_bad_schedules_are_refused_and_the_session_goes_on(setup: tuple[Any, str, Any]) -> None:
    client, policy_id, model = setup
    with connect(client, policy_id) as ws:
        socket = Socket(ws)
        hello = socket.open()
        browser = Browser(model, hello)
        socket.send(SetSchedule(schedule=CommandSchedule(segments=[seg(1.0, "spin", yaw=1.0)])))
        error = socket.receive()
        assert isinstance(error, Error) and error.code == "bad_command"
        assert "'yaw'" in error.message and "forward, sideways, turn" in error.message
        ws.send_bytes(msgspec.msgpack.encode({"type": "schedule", "schedule": {"segments": []}}))
        error = socket.receive()
        assert isinstance(error, Error) and error.code == "bad_frame"

        # A schedule, then cleared: a command set by hand holds again; setting one also ends a schedule.
        socket.send(SetCommand(values=[0.3, 0.0, 0.0]))
        socket.send(SetSchedule(schedule=SCHEDULE))
        assert isinstance(socket.receive(), Status)
        socket.send(SetSchedule(schedule=None))
        status = socket.receive()
        assert isinstance(status, Status) and "cleared" in status.message
        seen = run(socket, browser, 6)
        assert all(command == pytest.approx([0.3, 0.0, 0.0]) for step, command in seen.items() if step > 0)
        socket.send(SetSchedule(schedule=SCHEDULE))
        assert isinstance(socket.receive(), Status)
        socket.send(SetCommand(values=[0.0, 0.0, 0.7]))
        seen = run(socket, browser, 3)
        assert seen[2] == pytest.approx([0.0, 0.0, 0.7])


def test_a_policy_without_a_command_refuses_a_schedule() -> None:
    # The worker's handling with a session whose model takes no command (as CartpoleBalance's): no compile.
    session = PlaybackSession(SimpleNamespace(command=None, ctrl_dt=0.01))  # type: ignore[arg-type]
    error = decode_server(handle(session, encode(SetSchedule(schedule=SCHEDULE))))
    assert isinstance(error, Error) and error.code == "bad_command" and "takes no command" in error.message
    cleared = decode_server(handle(session, encode(SetSchedule(schedule=None))))
    assert isinstance(cleared, Status) and cleared.message == "command schedule cleared"
