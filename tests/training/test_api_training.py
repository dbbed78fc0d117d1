"""The training API with the fake worker and stand-ins for the scene registry and the reward checker (the
static check is the real one): status and stream payloads and the 4xx paths. The model library's API is
tested in tests/policies/test_library_api.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from server.rewards.static_check import static_check
from server.rewards.types import ValidationReport, Vocabulary, VocabularyEntry
from server.scenes.registry import UnknownScene
from server.services import Services
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

    def cancel_pending(self) -> None:
        pass

    async def close(self) -> None:
        pass


class StubRewards:
    async def vocabulary(self, scene_id: str) -> Vocabulary:
        entries = [VocabularyEntry(name=n, shape=[], description="") for n in NAMES]
        return Vocabulary(scene_id=scene_id, entries=entries, helpers=[], jnp_functions=[])

    async def validate(self, scene_id: str, program: str) -> ValidationReport:
        return static_check(program, set(NAMES))

    async def close(self) -> None:
        pass


def wire(app: Litestar, settings: Settings) -> None:
    """Swaps the app's services for fakes once its lifespan has opened the real ones (startup hooks run
    after lifespan managers): stand-in scenes and checker, and a manager running the fake worker."""

    async def open_training(app: Litestar) -> None:
        services: Services = app.state.services
        await services.training.close()  # the real one had nothing to run; stop it before replacing
        await services.rewards.close()
        await services.scenes.close()
        services.scenes = StubScenes()  # type: ignore[assignment]
        services.rewards = StubRewards()  # type: ignore[assignment]
        services.training = TrainingManager(
            settings,
            services.database,
            policies=services.policies,
            worker_module="tests.training.fake_worker",
            device="cpu",
            poll_s=0.05,
        )
        services.training.start()

    app.on_startup.append(open_training)


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
