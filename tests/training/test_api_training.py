"""The training and model-library API with the fake worker and stand-ins for the scene registry and the
reward checker (the static check is the real one): status and stream payloads, the 4xx paths, and export /
import round trips against hostile files."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from server.rewards.static_check import static_check
from server.rewards.types import ValidationReport, Vocabulary, VocabularyEntry
from server.scenes.registry import UnknownScene
from server.settings import Settings
from server.training.manager import TrainingManager
from tests.conftest import make_client

SCENES = ["CartpoleBalance", "CartpoleSwingup"]
NAMES = ["pole_angle", "cart_position", "action"]
PROGRAM = '''"""Keep the pole up."""
WEIGHTS = dict(upright=1.0)


def upright(s):
    return jnp.cos(s.pole_angle)
'''
HOSTILE = 'WEIGHTS = dict(t=1.0)\n\n\ndef t(s):\n    return __import__("os").system("rm -rf /")\n'


class StubScenes:
    async def get(self, scene_id: str) -> object:
        if scene_id not in SCENES:
            raise UnknownScene(scene_id, SCENES)
        return object()


class StubRewards:
    async def vocabulary(self, scene_id: str) -> Vocabulary:
        entries = [VocabularyEntry(name=n, shape=[], description="") for n in NAMES]
        return Vocabulary(scene_id=scene_id, entries=entries, helpers=[], jnp_functions=[])

    async def validate(self, scene_id: str, program: str) -> ValidationReport:
        return static_check(program, set(NAMES))


def wire(app: Litestar, settings: Settings) -> None:
    """Swaps the app's services for fakes once its lifespan has opened the real ones (startup hooks run
    after lifespan managers): stand-in scenes and checker, and a manager running the fake worker."""

    async def open_training(app: Litestar) -> None:
        await app.state.training.close()  # the real one had nothing to run; stop it before replacing
        app.state.scenes = StubScenes()
        app.state.rewards = StubRewards()
        app.state.training = TrainingManager(
            settings,
            app.state.database,
            worker_module="tests.training.fake_worker",
            device="cpu",
            poll_s=0.05,
        )
        app.state.training.start()

    async def close_training(app: Litestar) -> None:
        await app.state.training.close()

    app.on_startup.append(open_training)
    app.on_shutdown.insert(0, close_training)


@pytest.fixture
def api(app_settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    client = make_client(app_settings)
    wire(client.app, app_settings)
    with client:
        yield client


def start(api: TestClient, **spec: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    body = {"scene_id": "CartpoleBalance", "program": PROGRAM} | spec
    response = api.post("/api/training/start", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_final(api: TestClient, job_id: str) -> dict[str, Any]:  # type: ignore[type-arg]
    for _ in range(300):
        status: dict[str, Any] = api.get(f"/api/training/{job_id}/status").json()
        if status["state"] not in ("queued", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("event", ""), json.loads(fields["data"])))
    return events


# ---- training ------------------------------------------------------------------------------------------
def test_start_stream_and_status(api: TestClient) -> None:  # type: ignore[type-arg]
    job = start(api, task_description="steps=3 sleep=0.05", name="Balancer")
    assert job["state"] == "running" and job["device"] == "cpu"
    assert job["spec"]["name"] == "Balancer"
    with api.stream("GET", f"/api/training/{job['job_id']}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = sse_events(body)
    assert {name for name, _ in events} == {"status"}
    assert events[-1][1]["state"] == "succeeded"
    assert [len(e["history"]) for _, e in events] == sorted(len(e["history"]) for _, e in events)
    final = api.get(f"/api/training/{job['job_id']}/status").json()
    assert final == events[-1][1]
    assert final["progress"]["step"] == 20 and len(final["history"]) == 3
    listed = api.get("/api/training").json()
    assert [j["job_id"] for j in listed] == [job["job_id"]] and listed[0]["history"] == []
    model = api.get(f"/api/models/{final['policy_id']}").json()
    assert model["name"] == "Balancer" and model["job_id"] == job["job_id"]
    assert api.get("/api/models").json()[0]["id"] == final["policy_id"]


def test_list_is_newest_first_and_cancel_resume(api: TestClient) -> None:  # type: ignore[type-arg]
    first = start(api, task_description="steps=1 outcome=hang")
    second = start(api)
    assert second["state"] == "queued"
    assert [j["job_id"] for j in api.get("/api/training").json()] == [second["job_id"], first["job_id"]]
    cancelled = api.post(f"/api/training/{second['job_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    response = api.post(f"/api/training/{first['job_id']}/cancel")
    assert response.json()["state"] == "cancelled"
    again = api.post(f"/api/training/{first['job_id']}/cancel")
    assert again.status_code == 409
    assert again.json()["detail"] == f"job '{first['job_id']}' is cancelled; it cannot become cancelled"
    assert api.post(f"/api/training/{first['job_id']}/resume").status_code == 409
    events = sse_events(api.get(f"/api/training/{first['job_id']}/events").text)
    assert [e["state"] for _, e in events] == ["cancelled"]  # a finished job: one snapshot, then the end


def test_crash_is_interrupted_and_resume_requeues(api: TestClient) -> None:  # type: ignore[type-arg]
    job = start(api, task_description="steps=2 outcome=crash")
    status = wait_final(api, job["job_id"])
    assert status["state"] == "interrupted" and status["resumable"] is True
    assert "exited with code 3" in status["error"]
    resumed = api.post(f"/api/training/{job['job_id']}/resume")
    assert resumed.status_code == 200 and resumed.json()["state"] in ("queued", "running")
    assert resumed.json()["error"] is None


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"scene_id": "Robodog", "program": PROGRAM}, 404, "unknown scene 'Robodog'"),
        (
            {"scene_id": "CartpoleBalance", "program": PROGRAM, "base_policy_id": "f" * 32},
            404,
            "unknown policy",
        ),
        ({"scene_id": "CartpoleBalance", "program": HOSTILE}, 422, "__import__"),
        ({"scene_id": "CartpoleBalance", "program": PROGRAM, "preset": "turbo"}, 400, "preset"),
        ({"scene_id": "CartpoleBalance", "program": PROGRAM, "timesteps": 0}, 400, "timesteps"),
        ({"scene_id": "CartpoleBalance", "program": PROGRAM, "gpus": 8}, 400, "gpus"),
        ({"scene_id": "CartpoleBalance"}, 400, "program"),
    ],
)
def test_bad_starts_are_named(
    api: TestClient,  # type: ignore[type-arg]
    body: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    response = api.post("/api/training/start", json=body)
    assert response.status_code == status, response.text
    assert fragment in response.text
    if status == 404 and "scene" in fragment:
        assert response.json()["extra"]["valid_ids"] == SCENES
    if status == 422:
        assert response.json()["ok"] is False  # the validation report itself
    assert api.get("/api/training").json() == []


def test_unknown_job_and_policy_are_404(api: TestClient) -> None:  # type: ignore[type-arg]
    for method, path in [
        ("GET", "/api/training/nope/status"),
        ("GET", "/api/training/nope/events"),
        ("POST", "/api/training/nope/cancel"),
        ("POST", "/api/training/nope/resume"),
        ("GET", "/api/models/nope"),
        ("GET", "/api/models/..%2F..%2Fetc/export"),
        ("DELETE", "/api/models/" + "a" * 32),
        ("GET", f"/api/models/{'a' * 32}/export"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 404, (method, path, response.text)


# ---- the library -----------------------------------------------------------------------------------------
def trained(api: TestClient, name: str = "My: policy/1") -> str:  # type: ignore[type-arg]
    status = wait_final(api, start(api, name=name)["job_id"])
    assert status["state"] == "succeeded"
    return str(status["policy_id"])


def test_rename_delete(api: TestClient) -> None:  # type: ignore[type-arg]
    policy_id = trained(api)
    renamed = api.patch(f"/api/models/{policy_id}", json={"name": "Steady"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Steady"
    assert api.get("/api/models").json()[0]["name"] == "Steady"
    assert api.patch(f"/api/models/{policy_id}", json={"name": ""}).status_code == 400
    assert api.patch(f"/api/models/{policy_id}", json={"title": "x"}).status_code == 400
    assert api.delete(f"/api/models/{policy_id}").status_code == 204
    assert api.get("/api/models").json() == []
    assert api.get(f"/api/models/{policy_id}").status_code == 404


def test_export_import_round_trip(api: TestClient) -> None:  # type: ignore[type-arg]
    policy_id = trained(api)
    exported = api.get(f"/api/models/{policy_id}/export")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == 'attachment; filename="My_ policy_1.robocoach"'
    imported = api.post(
        "/api/models/import", content=exported.content, headers={"Content-Type": "application/octet-stream"}
    )
    assert imported.status_code == 201, imported.text
    new = imported.json()
    original = api.get(f"/api/models/{policy_id}").json()
    assert new["policy_id"] != policy_id
    assert {k: v for k, v in new.items() if k != "policy_id"} == {
        k: v for k, v in original.items() if k != "policy_id"
    }
    again = api.get(f"/api/models/{new['policy_id']}/export").content
    with zipfile.ZipFile(io.BytesIO(again)) as a, zipfile.ZipFile(io.BytesIO(exported.content)) as b:
        assert a.read("params.msgpack") == b.read("params.msgpack")
        assert hashlib.sha256(a.read("params.msgpack")).hexdigest() == new["params_sha256"]
    assert len(api.get("/api/models").json()) == 2


def rezip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_hostile_imports_are_refused(api: TestClient) -> None:  # type: ignore[type-arg]
    policy_id = trained(api)
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
        (variant(scene_id="Robodog"), 422, "scene 'Robodog'"),
        (variant(program=HOSTILE), 422, "reward program fails the check"),
    ]
    for body, status, fragment in cases:
        response = api.post(
            "/api/models/import", content=body, headers={"Content-Type": "application/octet-stream"}
        )
        assert response.status_code == status, (fragment, response.text)
        assert fragment in response.json()["detail"], response.text
    assert [m["id"] for m in api.get("/api/models").json()] == [policy_id]
    assert not [p for p in (api.app.state.training.library.root).iterdir() if p.name.startswith(".")]
