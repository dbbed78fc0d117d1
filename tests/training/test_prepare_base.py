""" "Prepare a base policy" (`POST /api/bases/prepare`) through the real app with the fake worker: the job
trains the scene's own task with the built-in drafter's reward and check, and its policy joins the library
marked as a base; an unknown scene is a 404 naming the valid ones."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from server.llm.builtin import draft_builtin
from server.planning.bases import base_task
from server.rewards.static_check import check_check
from server.rewards.types import ValidationReport, Vocabulary
from server.scenes.types import SceneInfo
from server.services import Services
from server.settings import Settings
from tests.conftest import make_client
from tests.training.test_api_training import NAMES, StubRewards, StubScenes, wait_final, wire


def scene_info(scene_id: str) -> SceneInfo:
    return SceneInfo(
        id=scene_id, name="Cartpole Balance", family="classic_control", robot="Cartpole", kind="cartpole",
        examples=[], num_actuators=1, action_size=1, observation_size={"state": [5]}, ctrl_dt=0.01,
        sim_dt=0.01, n_substeps=1, keyframes=[], model_bytes=1, model_sha256="0", mujoco_version="0",
    )  # fmt: skip


class Scenes(StubScenes):
    async def get(self, scene_id: str) -> SceneInfo:  # type: ignore[override]
        await super().get(scene_id)
        return scene_info(scene_id)


class Rewards(StubRewards):
    async def validate_check(self, scene_id: str, source: str) -> ValidationReport:
        return check_check(source, set(NAMES))[0]  # the real static check; no rollouts here


@pytest.fixture
def api(app_settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    client = make_client(app_settings)
    wire(client.app, app_settings)

    async def swap(app: object) -> None:
        services: Services = client.app.state.services
        services.scenes = Scenes()  # type: ignore[assignment]
        services.rewards = Rewards()  # type: ignore[assignment]

    client.app.on_startup.append(swap)
    with client:
        yield client


def test_prepare_a_base(api: TestClient) -> None:  # type: ignore[type-arg]
    started = api.post("/api/bases/prepare", json={"scene_id": "CartpoleBalance"})
    assert started.status_code == 201, started.text
    job = started.json()
    spec = job["spec"]
    task = base_task(scene_info("CartpoleBalance"))
    assert (spec["make_base"], spec["task_description"], spec["preset"]) == (True, task, "auto")
    assert spec["name"] == "Cartpole Balance base" and spec["check"] and spec["reflection_rounds"] == 0
    services: Services = api.app.state.services
    assert spec["program"] == draft_builtin(task, "CartpoleBalance", _vocabulary(api))

    final = wait_final(api, job["job_id"])
    assert final["state"] == "succeeded", final
    listed = {p["id"]: p for p in api.get("/api/models").json()}
    assert listed[final["policy_id"]]["base"] == "user"
    assert [b.id for b in services.policies.bases("CartpoleBalance")] == [final["policy_id"]]
    # A plain job's policy is not a base.
    plain = api.post("/api/training/start", json={"scene_id": "CartpoleBalance", "program": spec["program"]})
    plain_final = wait_final(api, plain.json()["job_id"])
    listed = {p["id"]: p for p in api.get("/api/models").json()}
    assert listed[plain_final["policy_id"]]["base"] is None


def _vocabulary(api: TestClient) -> Vocabulary:  # type: ignore[type-arg]
    services: Services = api.app.state.services
    return asyncio.run(services.rewards.vocabulary("CartpoleBalance"))


def test_prepare_refuses_bad_input(api: TestClient) -> None:  # type: ignore[type-arg]
    unknown = api.post("/api/bases/prepare", json={"scene_id": "Nope"})
    assert unknown.status_code == 404 and unknown.json()["extra"]["valid_ids"]
    assert api.post("/api/bases/prepare", json={}).status_code == 400
    assert api.post("/api/bases/prepare", json={"scene_id": "CartpoleBalance", "x": 1}).status_code == 400
