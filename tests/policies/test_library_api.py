"""The model-library API (`/api/models`) on the real app and the real library, with a stand-in scene
registry and the real static reward check: rename, delete, review, export/import round trips, and
hostile files refused with a 4xx that names the problem."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from server.policies.library import PolicyLibrary
from server.rewards.checker import RewardChecker
from server.rewards.static_check import static_check
from server.rewards.types import ValidationReport
from server.scenes.registry import SceneRegistry, UnknownScene
from server.scenes.types import SceneInfo
from server.services import Services
from server.settings import Settings
from tests.conftest import make_client
from tests.policies.helpers import add_policy, rezip

SCENES = ["CartpoleBalance", "CartpoleSwingup"]
NAMES = ["pole_angle", "cart_position", "action"]
HOSTILE = 'WEIGHTS = dict(t=1.0)\n\n\ndef t(s):\n    return __import__("os").system("rm -rf /")\n'
OCTETS = {"Content-Type": "application/octet-stream"}


class StubScenes(SceneRegistry):
    """Two scenes, ready at once (a subclass: handlers receive the registry by its type)."""

    def __init__(self) -> None:
        pass

    async def get(self, scene_id: str) -> SceneInfo:
        if scene_id not in SCENES:
            raise UnknownScene(scene_id, SCENES)
        return None  # type: ignore[return-value]  # the import only needs the scene to exist

    async def close(self) -> None:
        return None


class StubRewards(RewardChecker):
    """The static check only (the trace check's worker is tested in test_import_review.py)."""

    def __init__(self) -> None:
        pass

    async def validate(self, scene_id: str, program: str) -> ValidationReport:
        return static_check(program, set(NAMES))

    async def close(self) -> None:
        return None


def use_stubs(app: Litestar, *, rewards: bool) -> None:
    """Swaps in stand-in services once the lifespan has opened the real ones (startup hooks run after
    lifespan managers)."""

    async def swap(app: Litestar) -> None:
        services: Services = app.state.services
        services.scenes = StubScenes()
        if rewards:
            await services.rewards.close()
            services.rewards = StubRewards()

    app.on_startup.append(swap)


def services_of(client: TestClient) -> Services:  # type: ignore[type-arg]
    services: Services = client.app.state.services
    return services


def library_of(client: TestClient) -> PolicyLibrary:  # type: ignore[type-arg]
    return services_of(client).policies


@pytest.fixture
def api(app_settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    client = make_client(app_settings)
    use_stubs(client.app, rewards=True)
    with client:
        yield client


def test_rename_delete(api: TestClient) -> None:  # type: ignore[type-arg]
    policy_id = add_policy(library_of(api)).policy_id
    renamed = api.patch(f"/api/models/{policy_id}", json={"name": "Steady"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Steady"
    assert api.get("/api/models").json()[0]["name"] == "Steady"
    assert api.patch(f"/api/models/{policy_id}", json={"name": ""}).status_code == 400
    assert api.patch(f"/api/models/{policy_id}", json={"title": "x"}).status_code == 400
    assert api.delete(f"/api/models/{policy_id}").status_code == 204
    assert api.get("/api/models").json() == []
    assert api.get(f"/api/models/{policy_id}").status_code == 404
    assert api.post(f"/api/models/{policy_id}/review").status_code == 404
    assert api.post("/api/models/..%2F..%2Fetc/review").status_code == 404


def test_export_import_round_trip(api: TestClient) -> None:  # type: ignore[type-arg]
    policy_id = add_policy(library_of(api)).policy_id
    exported = api.get(f"/api/models/{policy_id}/export")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == 'attachment; filename="My_ policy_1.robocoach"'
    imported = api.post("/api/models/import", content=exported.content, headers=OCTETS)
    assert imported.status_code == 201, imported.text
    new = imported.json()
    original = api.get(f"/api/models/{policy_id}").json()
    assert new["policy_id"] != policy_id
    assert (original["source"], new["source"]) == ("trained", "imported")
    assert new["program_reviewed_at"] is None
    same = {"policy_id", "source", "program_reviewed_at"}
    assert {k: v for k, v in new.items() if k not in same} == {
        k: v for k, v in original.items() if k not in same
    }
    again = api.get(f"/api/models/{new['policy_id']}/export").content
    with zipfile.ZipFile(io.BytesIO(again)) as a, zipfile.ZipFile(io.BytesIO(exported.content)) as b:
        assert a.read("params.msgpack") == b.read("params.msgpack")
        assert hashlib.sha256(a.read("params.msgpack")).hexdigest() == new["params_sha256"]
    listed = {p["id"]: p for p in api.get("/api/models").json()}
    assert (listed[policy_id]["source"], listed[policy_id]["needs_review"]) == ("trained", False)
    assert (listed[new["policy_id"]]["source"], listed[new["policy_id"]]["needs_review"]) == (
        "imported",
        True,
    )

    reviewed = api.post(f"/api/models/{new['policy_id']}/review")
    assert reviewed.status_code == 200 and reviewed.json()["program_reviewed_at"] is not None
    assert not {p["id"]: p for p in api.get("/api/models").json()}[new["policy_id"]]["needs_review"]


def test_hostile_imports_are_refused(api: TestClient) -> None:  # type: ignore[type-arg]
    policy_id = add_policy(library_of(api)).policy_id
    with zipfile.ZipFile(io.BytesIO(api.get(f"/api/models/{policy_id}/export").content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        params = archive.read("params.msgpack")

    def variant(**changes: Any) -> bytes:
        return rezip({"manifest.json": json.dumps(manifest | changes).encode(), "params.msgpack": params})

    cases = [
        (b"not a zip", 400, "not a zip archive"),
        (rezip({"manifest.json": json.dumps(manifest).encode()}), 400, "exactly manifest.json and params"),
        (rezip({"manifest.json": b"{}", "params.msgpack": params, "run.py": b"x"}), 400, "exactly"),
        (rezip({"../manifest.json": b"{}", "params.msgpack": params}), 400, "exactly"),
        (rezip({"manifest.json": b" " * (17 * 2**20), "params.msgpack": params}), 400, "inflates"),
        (rezip({"manifest.json": b"[1]", "params.msgpack": params}), 400, "not a policy manifest"),
        (
            rezip({"manifest.json": json.dumps(manifest).encode(), "params.msgpack": params + b"!"}),
            400,
            "does not match the manifest's params_sha256",
        ),
        (variant(source="forged"), 400, "not a policy manifest"),
        (variant(scene_id="Robodog"), 422, "scene 'Robodog'"),
        (variant(program=HOSTILE), 422, "reward program fails the check"),
    ]
    for body, status, fragment in cases:
        response = api.post("/api/models/import", content=body, headers=OCTETS)
        assert response.status_code == status, (fragment, response.text)
        assert fragment in response.json()["detail"], response.text
    refused = api.post("/api/models/import", content=variant(program=HOSTILE), headers=OCTETS).json()
    assert refused["extra"]["errors"][0]["line"] == 5  # the located errors, as Validate shows them
    assert [m["id"] for m in api.get("/api/models").json()] == [policy_id]
    assert not [p for p in library_of(api).root.iterdir() if p.name.startswith(".")]
