"""`WS /api/models/{id}/inference` through the real app, the real inference worker process and real MuJoCo
physics (the C library, stepping the way the browser does): the session lifecycle, bad input, several
sessions, a killed worker and a reconnect."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from litestar.testing.websocket_test_session import WebSocketTestSession

from server.inference.protocol import (
    CLOSE_UNKNOWN_MODEL,
    CLOSE_WORKER_FAILED,
    Action,
    Episode,
    Error,
    Hello,
    Reset,
    SetCommand,
    Status,
    decode_server,
    encode,
    from_bytes,
    to_bytes,
)
from server.policies.library import PolicyLibrary
from server.training.runner import load_scene
from tests.conftest import make_client
from tests.inference.browser import Browser
from tests.inference.policies import app_with_untrained_policy, save_untrained_policy

SCENE = "CartpoleBalance"


class Socket:
    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws

    def send(self, message: Any) -> None:
        self.ws.send_bytes(encode(message))

    def receive(self) -> Any:
        return decode_server(self.ws.receive_bytes())

    def open(self) -> Hello:
        """Status messages, then the hello."""
        phases = []
        while isinstance(message := self.receive(), Status):
            phases.append(message.phase)
        assert phases[-1:] == ["ready"]
        assert isinstance(message, Hello)
        return message


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> Iterator[tuple[Any, str, Any]]:
    settings, policy_id = app_with_untrained_policy(tmp_path_factory.mktemp("playback"), SCENE, scene_cache)
    model = load_scene(SCENE, scene_cache).env.mj_model
    with make_client(settings) as client:
        yield client, policy_id, model


def connect(client: TestClient, policy_id: str, token: str | None = None) -> Any:  # type: ignore[type-arg]
    token = token if token is not None else client.app.state.settings.token
    # A browser cannot set headers on a WebSocket: only the query's token may count.
    headers = {"Authorization": ""}
    return client.websocket_connect(f"/api/models/{policy_id}/inference?token={token}", headers=headers)


def test_episode_streams_controls_for_browser_physics(setup: tuple[Any, str, Any]) -> None:
    client, policy_id, model = setup
    with connect(client, policy_id) as ws:
        socket = Socket(ws)
        hello = socket.open()
        assert (hello.version, hello.policy_id, hello.scene_id) == (1, policy_id, SCENE)
        assert (hello.nq, hello.nv, hello.nu) == (model.nq, model.nv, model.nu)
        assert hello.substeps * hello.timestep == pytest.approx(hello.ctrl_dt)
        assert hello.reward_terms == ["up"] and hello.command is None
        browser = Browser(model, hello)
        socket.send(Reset(seed=3))
        episode = socket.receive()
        assert isinstance(episode, Episode)
        browser.start(episode)
        total = 0.0
        for seq in range(40):
            socket.send(browser.interval(seq))
            action = socket.receive()
            assert isinstance(action, Action) and action.seq == seq and action.step == seq + 1
            # The program's one term is cos(pole angle), of the state the browser just simulated.
            angle = browser.data.qpos[1]
            assert action.terms[0] == pytest.approx(np.cos(angle), abs=1e-5)
            total += action.reward
            assert action.episode_return == pytest.approx(total, rel=1e-6)
            browser.apply(action)
        assert browser.data.time == pytest.approx(40 * hello.ctrl_dt)


def test_bad_frames_get_errors_and_the_session_goes_on(setup: tuple[Any, str, Any]) -> None:
    client, policy_id, model = setup
    with connect(client, policy_id) as ws:
        socket = Socket(ws)
        hello = socket.open()
        browser = Browser(model, hello)

        socket.send(browser.interval(0))
        error = socket.receive()
        assert isinstance(error, Error) and error.code == "no_episode"

        ws.send_bytes(b"\x93\x01\x02")  # msgpack, but not a message
        error = socket.receive()
        assert isinstance(error, Error) and error.code == "bad_frame"
        ws.send_text("hello")
        error = socket.receive()
        assert isinstance(error, Error) and error.code == "bad_frame" and "binary" in error.message

        socket.send(Reset(seed=0))
        browser.start(socket.receive())
        good = browser.interval(0)
        short = msgspec.structs.replace(good.after, qpos=good.after.qpos[:8])
        socket.send(msgspec.structs.replace(good, after=short))
        error = socket.receive()
        assert error.code == "bad_state" and "after.qpos has 8 bytes" in error.message and error.seq == 0
        nan = msgspec.structs.replace(good.before, qvel=to_bytes(np.array([np.nan, 0.0])))
        socket.send(msgspec.structs.replace(good, before=nan))
        error = socket.receive()
        assert error.code == "bad_state" and "NaN" in error.message
        socket.send(SetCommand(values=[1.0]))
        error = socket.receive()
        assert error.code == "bad_command" and "no command" in error.message

        socket.send(good)  # the session is still usable
        action = socket.receive()
        assert isinstance(action, Action) and action.step == 1


def test_unknown_policy_and_missing_token_are_refused(setup: tuple[Any, str, Any]) -> None:
    client, _policy_id, _model = setup
    with pytest.raises(WebSocketDisconnect) as refused, connect(client, "0" * 32) as ws:
        ws.receive_bytes()
    assert refused.value.code == CLOSE_UNKNOWN_MODEL and "unknown policy" in refused.value.detail
    with pytest.raises(WebSocketDisconnect) as refused, connect(client, _policy_id, token="wrong") as ws:
        ws.receive_bytes()
    assert refused.value.code == 4401 and "token" in refused.value.detail  # readable by the page
    token = client.app.state.settings.token
    foreign = {"Authorization": "", "Origin": "http://attacker.example"}
    url = f"/api/models/{_policy_id}/inference?token={token}"
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url, headers=foreign) as ws:
        ws.receive_bytes()
    assert refused.value.code == 1008 and "cross-origin" in refused.value.detail  # no handshake


def test_sessions_are_independent_and_rest_stays_responsive(setup: tuple[Any, str, Any]) -> None:
    client, policy_id, model = setup
    with connect(client, policy_id) as ws_a, connect(client, policy_id) as ws_b:
        a, b = Socket(ws_a), Socket(ws_b)
        browsers = [Browser(model, a.open()), Browser(model, b.open())]
        for socket, browser, seed in ((a, browsers[0], 1), (b, browsers[1], 2)):
            socket.send(Reset(seed=seed))
            browser.start(socket.receive())
        steps = {"a": 0, "b": 0}
        for i in range(10):
            a.send(browsers[0].interval(i))
            steps["a"] = a.receive().step
            if i % 2 == 0:  # b advances half as often: its episode memory is its own
                b.send(browsers[1].interval(i))
                steps["b"] = b.receive().step
            # The rest of the API answers while both sessions are mid-episode; how fast is a figure of
            # scripts/bench_inference.py ("health" columns), not a wall-clock assert that load can break.
            assert client.get("/api/health").status_code == 200
        assert steps == {"a": 10, "b": 5}


def test_killed_worker_closes_sockets_and_a_reconnect_resumes_in_place(setup: tuple[Any, str, Any]) -> None:
    client, policy_id, model = setup
    with connect(client, policy_id) as ws:
        socket = Socket(ws)
        hello = socket.open()
        browser = Browser(model, hello)
        socket.send(Reset(seed=0))
        browser.start(socket.receive())
        for seq in range(5):
            socket.send(browser.interval(seq))
            browser.apply(socket.receive())
        worker = client.app.state.services.inference._workers[policy_id]
        os.kill(worker.process.pid, signal.SIGKILL)
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive()
        assert closed.value.code == CLOSE_WORKER_FAILED and "reconnect" in closed.value.detail

    with connect(client, policy_id) as ws:  # a new worker compiles; the robot stays where it was
        socket = Socket(ws)
        socket.open()
        where = browser.state()
        socket.send(Reset(seed=0, state=where))
        episode = socket.receive()
        assert isinstance(episode, Episode)
        np.testing.assert_allclose(from_bytes(episode.qpos, hello.nq, "qpos"), browser.data.qpos, atol=1e-6)
        browser.start(episode)
        socket.send(browser.interval(0))
        action = socket.receive()
        assert isinstance(action, Action) and action.step == 1


def test_deleting_a_playing_policy_ends_its_sessions(setup: tuple[Any, str, Any], scene_cache: Path) -> None:
    client, _policy_id, model = setup
    settings = client.app.state.settings
    staging = settings.data_dir / "policies" / "staging-doomed"
    save_untrained_policy(staging, SCENE, scene_cache)
    doomed = PolicyLibrary(settings.data_dir).add(staging).policy_id
    with connect(client, doomed) as ws:
        socket = Socket(ws)
        browser = Browser(model, socket.open())
        socket.send(Reset(seed=0))
        browser.start(socket.receive())
        assert client.delete(f"/api/models/{doomed}").status_code == 204
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.send(browser.interval(0))
            socket.receive()
        assert closed.value.code == CLOSE_UNKNOWN_MODEL and "deleted" in closed.value.detail
    with pytest.raises(WebSocketDisconnect) as refused, connect(client, doomed) as ws:
        ws.receive_bytes()
    assert refused.value.code == CLOSE_UNKNOWN_MODEL


def test_playing_another_policy_stops_idle_workers(setup: tuple[Any, str, Any], scene_cache: Path) -> None:
    client, policy_id, _model = setup
    service = client.app.state.services.inference
    with connect(client, policy_id) as ws:
        Socket(ws).open()
    assert policy_id in service._workers  # idle, kept for a replay
    settings = client.app.state.settings
    staging = settings.data_dir / "policies" / "staging-other"
    save_untrained_policy(staging, SCENE, scene_cache)
    other = PolicyLibrary(settings.data_dir).add(staging).policy_id
    with connect(client, other) as ws:
        Socket(ws).open()
        assert set(service._workers) == {other}
