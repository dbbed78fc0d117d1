"""Preparing a scene's reward checks ahead of the first draft (issue 13), with a real trace worker: the
checker's state machine, what the worker reuses, and the API routes with their errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from server.llm.builtin import draft_builtin_check
from server.scenes.registry import UnknownScene
from server.settings import SHIPPED_BASES_DIR, load_settings
from tests.conftest import TEST_PORT, make_client
from tests.rewards.harness import Harness, open_harness

SCENE = "CartpoleBalance"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from open_harness(tmp_path_factory, "prepare")


def test_prepare_is_idempotent_and_reuses_what_a_draft_loaded(harness: Harness) -> None:
    checker = harness.checker
    assert checker.prepare_status(SCENE).state == "idle"
    # A draft's check before any prepare builds the rollouts of every recordable entry ...
    vocabulary = harness.run(checker.vocabulary(SCENE))
    check = draft_builtin_check("balance the pole", SCENE, vocabulary)
    report = harness.run(checker.validate_check(SCENE, check))
    assert report.ok, report.errors
    # ... so preparing afterwards compiles nothing: the worker reports no phase.
    first = harness.prepare(SCENE)
    assert first.state == "preparing"
    assert harness.prepare(SCENE).state == "preparing"  # asked again while under way: the same work
    done = harness.run(checker.wait_prepared(SCENE))
    assert done.state == "prepared", done.error
    assert done.phases == {}
    assert checker.calls["Prepare"] == 1
    again = harness.prepare(SCENE)
    assert again.state == "prepared"
    assert checker.calls["Prepare"] == 1  # a prepared scene costs the worker nothing
    assert checker.prepare_status(SCENE) == again


def test_selecting_another_scene_drops_a_preparation_still_waiting(harness: Harness) -> None:
    checker = harness.checker
    prepares = checker.calls["Prepare"]

    async def switch() -> tuple[Any, Any]:
        first = checker.prepare("AcrobotSwingup")  # its task has not reached the worker yet
        return first, checker.prepare(SCENE)

    first, second = harness.run(switch())
    assert first.state == "preparing" and second.state == "prepared"
    assert harness.run(checker.wait_prepared("AcrobotSwingup")).state == "idle"
    assert checker.calls["Prepare"] == prepares  # the worker never heard of it


def test_a_new_worker_reads_the_sample_rollouts_from_disk(harness: Harness) -> None:
    assert harness.checker.prepare_status(SCENE).state == "prepared"
    done = harness.restart_and_prepare(SCENE)
    assert {"load", "step", "rollout from disk"} <= set(done.phases)
    assert "rollout compile" not in done.phases


def test_damaged_sample_rollouts_are_recomputed(harness: Harness) -> None:
    folder = harness.checker.cache_dir / "check-samples"
    files = [f for f in folder.glob(f"{SCENE}-*.npz") if "-base-" not in f.name]  # not a base's rollouts
    assert len(files) == 1
    files[0].write_bytes(b"PK\x03\x04 not really a zip")
    done = harness.restart_and_prepare(SCENE)
    assert {"load", "step", "rollout compile", "rollout run"} <= set(done.phases)
    assert files[0].read_bytes()[:4] == b"PK\x03\x04" and files[0].stat().st_size > 1000  # rewritten
    # The check a draft then validates runs on those rollouts: no second rollout compile.
    checker = harness.checker
    vocabulary = harness.run(checker.vocabulary(SCENE))
    report = harness.run(checker.validate_check(SCENE, draft_builtin_check("swing", SCENE, vocabulary)))
    assert report.ok, report.errors
    assert harness.run(checker._call(_prepare_request(SCENE), dict[str, float])) == {}


def test_unknown_and_malformed_scenes(harness: Harness) -> None:
    with pytest.raises(UnknownScene):
        harness.prepare("../etc")
    assert harness.prepare("NoSuchScene").state == "preparing"
    failed = harness.run(harness.checker.wait_prepared("NoSuchScene"))
    assert failed.state == "failed"
    assert "NoSuchScene" in failed.error


def _prepare_request(scene_id: str) -> Any:
    from server.rewards.protocol import Prepare

    return Prepare(scene_id)


# ---- the routes ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> Iterator[TestClient]:  # type: ignore[type-arg]
    settings = load_settings(data_dir=tmp_path_factory.mktemp("prepare-api"), port=TEST_PORT)
    # The shipped bases: preparing CartpoleBalance rolls out the base its drafts' checks are judged on.
    settings = msgspec.structs.replace(settings, cache_dir=scene_cache, bases_dir=SHIPPED_BASES_DIR)
    with make_client(settings) as test_client:
        yield test_client


def test_prepare_route_starts_then_reports_prepared(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.post("/api/rewards/prepare", json={"scene_id": SCENE})
    assert response.status_code == 202, response.text
    assert response.json()["scene_id"] == SCENE
    assert response.json()["state"] in ("preparing", "prepared")
    for _ in range(600):  # until it settles; the test command's timeout bounds a hang
        status = client.get(f"/api/rewards/prepare/{SCENE}").json()
        if status["state"] != "preparing":
            break
        time.sleep(0.5)
    assert status["state"] == "prepared", status
    assert "base rollouts" in status["phases"]
    again = client.post("/api/rewards/prepare", json={"scene_id": SCENE})
    assert again.status_code == 202 and again.json()["state"] == "prepared"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "fragment"),
    [
        ("post", "/api/rewards/prepare", {"scene_id": "Robodog"}, 404, "CartpoleBalance"),
        ("get", "/api/rewards/prepare/Robodog", None, 404, "CartpoleBalance"),
        ("post", "/api/rewards/prepare", {}, 400, "scene_id"),
        ("post", "/api/rewards/prepare", {"scene_id": ""}, 400, "scene_id"),
        ("post", "/api/rewards/prepare", {"scene_id": SCENE, "extra": 1}, 400, "extra"),
        ("post", "/api/rewards/prepare", {"scene_id": 7}, 400, "scene_id"),
    ],
)
def test_prepare_route_bad_input_is_a_clear_4xx(
    client: TestClient,  # type: ignore[type-arg]
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    fragment: str,
) -> None:
    response = client.post(path, json=body) if method == "post" else client.get(path)
    assert response.status_code == status, response.text
    assert fragment in response.text
