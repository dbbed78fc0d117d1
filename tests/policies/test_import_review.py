"""Imported policies are untrusted (issue 9): an import's reward program passes the same validation as a
drafted one, the static check and the trace check in the real sandboxed worker, or the import is refused
with the located errors; an accepted import cannot play until the user confirms having read its program.

Real app, real RewardChecker worker (JAX on the CPU), real library and inference service; only the scene
registry is a stand-in (it would export every scene first)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from server.inference.protocol import CLOSE_NEEDS_REVIEW, Status, decode_server
from server.settings import Settings, load_settings
from tests.conftest import TEST_PORT, make_client
from tests.policies.helpers import PROGRAM, add_policy, archive_with
from tests.policies.test_library_api import OCTETS, library_of, services_of, use_stubs

# Issue 9's probe: a chained assignment target that `exec` would have evaluated (it wrote a file).
CHAINED = """WEIGHTS = jnp.__dict__[__import__("numpy").save("pwned", 1)] = dict(upright=1.0)


def upright(s):
    return jnp.cos(s.pole_angle)
"""
# Passes the static check; the trace check finds that the term returns a vector.
VECTOR = "WEIGHTS = dict(t=1.0)\n\n\ndef t(s):\n    return s.qpos\n"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("import-review")
    settings: Settings = msgspec.structs.replace(
        load_settings(data_dir=root / "data", port=TEST_PORT), build_scenes_on_start=False
    )
    client = make_client(settings)
    use_stubs(client.app, rewards=False)  # the app's own checker and its worker
    with client:
        yield client


def import_with(api: TestClient, program: str) -> httpx.Response:  # type: ignore[type-arg]
    """Imports a copy of a fresh library policy, with `program` as its reward program."""
    source = add_policy(library_of(api), name="source")
    body = archive_with(source, b"params", program=program)
    return api.post("/api/models/import", content=body, headers=OCTETS)


def imported_ids(api: TestClient) -> list[str]:  # type: ignore[type-arg]
    return [p["id"] for p in api.get("/api/models").json() if p["source"] == "imported"]


def test_a_program_the_static_check_refuses_is_not_imported(api: TestClient) -> None:  # type: ignore[type-arg]
    before = imported_ids(api)
    response = import_with(api, CHAINED)
    assert response.status_code == 422, response.text
    body = response.json()
    assert "reward program fails the check" in body["detail"]
    errors = body["extra"]["errors"]
    assert errors and errors[0]["stage"] == "static" and errors[0]["line"] == 1
    assert not Path("pwned.npy").exists()
    assert imported_ids(api) == before


def test_a_program_the_trace_check_refuses_is_not_imported(api: TestClient) -> None:  # type: ignore[type-arg]
    before = imported_ids(api)
    response = import_with(api, VECTOR)
    assert response.status_code == 422, response.text
    (error,) = response.json()["extra"]["errors"]
    assert error["stage"] == "trace" and "must return a scalar" in error["message"]
    assert "`t`" in error["message"] and error["line"] in (4, 5)
    assert imported_ids(api) == before


def test_an_import_plays_only_after_its_program_is_reviewed(api: TestClient) -> None:  # type: ignore[type-arg]
    response = import_with(api, PROGRAM)
    assert response.status_code == 201, response.text
    policy_id = response.json()["policy_id"]
    assert response.json()["source"] == "imported" and policy_id in imported_ids(api)
    token = services_of(api).settings.token
    url = f"/api/models/{policy_id}/inference?token={token}"
    headers = {"Authorization": ""}  # a browser's WebSocket carries the token in the query only

    with pytest.raises(WebSocketDisconnect) as refused, api.websocket_connect(url, headers=headers) as ws:
        ws.receive_bytes()
    assert refused.value.code == CLOSE_NEEDS_REVIEW and "read its reward program" in refused.value.detail
    assert not services_of(api).inference._workers  # refused before any worker could run the program

    assert api.post(f"/api/models/{policy_id}/review").status_code == 200
    with api.websocket_connect(url, headers=headers) as ws:  # past the gate: a worker starts
        first = decode_server(ws.receive_bytes())
        assert isinstance(first, Status) and first.phase == "compiling"
    assert policy_id in services_of(api).inference._workers
