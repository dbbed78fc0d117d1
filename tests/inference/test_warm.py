"""`POST /api/models/{id}/warm` through the real app and the real inference worker: the worker compiles
before any socket, so the first socket's hello comes without a "compiling" phase; warming is idempotent;
an unused warmed worker stops after the idle time; unknown and unreviewed policies are refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from server.inference.protocol import Hello, Status, decode_server
from server.policies import archive
from server.policies.library import PolicyLibrary
from tests.conftest import make_client
from tests.inference.policies import app_with_untrained_policy

SCENE = "CartpoleBalance"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> Iterator[tuple[Any, str]]:
    settings, policy_id = app_with_untrained_policy(tmp_path_factory.mktemp("warm"), SCENE, scene_cache)
    with make_client(settings) as client:
        yield client, policy_id


def warm_until_ready(client: TestClient, policy_id: str) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        response = client.post(f"/api/models/{policy_id}/warm")
        assert response.status_code == 202, response.text
        assert response.json()["policy_id"] == policy_id
        if response.json()["ready"]:
            return
        time.sleep(0.2)
    raise AssertionError("the warmed worker never compiled")


def test_warm_compiles_before_the_first_socket(setup: tuple[Any, str]) -> None:
    client, policy_id = setup
    service = client.app.state.services.inference
    first = client.post(f"/api/models/{policy_id}/warm")
    assert first.status_code == 202 and first.json() == {"policy_id": policy_id, "ready": False}
    worker = service._workers[policy_id]
    warm_until_ready(client, policy_id)
    assert service._workers[policy_id] is worker  # idempotent: one worker, one compile
    assert worker.idle_timer is not None  # idle from its hello: no socket has used it
    token = client.app.state.settings.token
    url = f"/api/models/{policy_id}/inference?token={token}"
    with client.websocket_connect(url, headers={"Authorization": ""}) as ws:
        ready = decode_server(ws.receive_bytes())
        assert isinstance(ready, Status) and ready.phase == "ready"  # no "compiling": it already did
        hello = decode_server(ws.receive_bytes())
        assert isinstance(hello, Hello) and hello.policy_id == policy_id
    assert service._workers[policy_id] is worker


def test_an_unused_warmed_worker_stops_after_the_idle_time(setup: tuple[Any, str]) -> None:
    client, policy_id = setup
    service = client.app.state.services.inference
    idle_s = service.idle_s
    service.idle_s = 1.0
    try:
        warm_until_ready(client, policy_id)  # compiled already: warming again restarts the idle time
        process = service._workers[policy_id].process
        deadline = time.monotonic() + 30
        while process.returncode is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert policy_id not in service._workers and process.returncode is not None
    finally:
        service.idle_s = idle_s


def test_unknown_and_unreviewed_policies_are_refused(setup: tuple[Any, str]) -> None:
    client, policy_id = setup
    service = client.app.state.services.inference
    unknown = client.post("/api/models/nope/warm")
    assert unknown.status_code == 404 and unknown.json()["extra"] == {"policy_id": "nope"}
    library: PolicyLibrary = client.app.state.services.policies
    manifest, params = archive.unpack(archive.pack(library.folder(policy_id)))
    imported = library.add_imported(manifest, params).policy_id
    before = set(service._workers)
    refused = client.post(f"/api/models/{imported}/warm")
    assert refused.status_code == 409 and "read its reward program" in refused.json()["detail"]
    assert set(service._workers) == before  # refused before any worker could run its program
