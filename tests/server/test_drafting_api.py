"""Drafting through the API: the offline drafter end to end (real scene, real trace check in a worker),
validation of edited programs, provider listing/selection/keys, and the failure paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient

from server.settings import load_settings
from tests.conftest import TEST_PORT, make_client

FAKE_KEY = "sk-ant-test-0123456789abcdef"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> Iterator[TestClient]:  # type: ignore[type-arg]
    settings = load_settings(data_dir=tmp_path_factory.mktemp("drafting"), port=TEST_PORT)
    # The session's complete scene cache: the registry starts no worker; the reward checker starts one.
    settings = msgspec.structs.replace(settings, cache_dir=scene_cache)
    with make_client(settings) as test_client:
        yield test_client


def test_builtin_draft_for_cartpole_is_validated(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.post(
        "/api/policy/generate",
        json={
            "task_description": "Balance the pole with the cart at the left",
            "scene_id": "CartpoleBalance",
            "provider": "builtin",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "builtin"
    assert body["attempts"] == 1
    assert body["training_method"] == "full_training"
    assert body["training_time_estimate_s"] > 0
    assert "minutes" in body["training_time_estimate"]
    assert body["validation"]["ok"] is True
    assert len(body["policy_id"]) == 32
    names = [term["name"] for term in body["reward_functions"]]
    assert names and all(term["code"].startswith("def ") for term in body["reward_functions"])
    assert {term["type"] for term in body["reward_functions"]} <= {"reward", "penalty"}
    assert "WEIGHTS" in body["program"]
    assert "cart_position" in body["program"]  # the "at the left" part of the task became a term


def test_builtin_draft_for_go1_is_validated(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.post(
        "/api/policy/generate",
        json={"task_description": "make the dog walk backwards", "scene_id": "Go1JoystickFlatTerrain"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["validation"]["ok"] is True
    assert "base_lin_vel" in body["program"]


def test_unknown_scene_is_a_404_listing_valid_ids(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.post("/api/policy/generate", json={"task_description": "walk", "scene_id": "Robodog"})
    assert response.status_code == 404
    assert "CartpoleBalance" in response.json()["extra"]["valid_ids"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task_description": "", "scene_id": "CartpoleBalance"}, "task_description"),
        ({"task_description": "x" * 2001, "scene_id": "CartpoleBalance"}, "task_description"),
        ({"scene_id": "CartpoleBalance"}, "task_description"),
        ({"task_description": "walk", "scene_id": "CartpoleBalance", "provider": "skynet"}, "provider"),
    ],
)
def test_malformed_generate_requests_name_the_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:  # type: ignore[type-arg]
    response = client.post("/api/policy/generate", json=body)
    assert response.status_code == 400
    assert field in response.text


def test_cloud_provider_without_key_fails_clearly_and_offers_builtin(
    client: TestClient,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    response = client.post(
        "/api/policy/generate",
        json={"task_description": "balance", "scene_id": "CartpoleBalance", "provider": "anthropic"},
    )
    assert response.status_code == 502
    failure = response.json()
    assert failure["provider"] == "anthropic"
    assert failure["cause"] == "no_key"
    assert failure["fallback"] == "builtin"


def test_hostile_program_is_rejected_with_its_line(client: TestClient) -> None:  # type: ignore[type-arg]
    program = "import os\nWEIGHTS = dict(up=1.0)\n\n\ndef up(s):\n    return s.pole_angle\n"
    response = client.post("/api/rewards/validate", json={"scene_id": "CartpoleBalance", "program": program})
    assert response.status_code == 200
    report = response.json()
    assert report["ok"] is False
    assert report["errors"][0]["line"] == 1
    assert "import" in report["errors"][0]["message"]


def test_edited_program_validates(client: TestClient) -> None:  # type: ignore[type-arg]
    program = (
        '"""Keep the pole up."""\n\nWEIGHTS = dict(up=2.0, effort=-0.01)\n\n\n'
        "def up(s):\n    return jnp.cos(s.pole_angle)\n\n\n"
        "def effort(s):\n    return jnp.sum(jnp.square(s.action))\n"
    )
    response = client.post("/api/rewards/validate", json={"scene_id": "CartpoleBalance", "program": program})
    report = response.json()
    assert report["ok"] is True, report
    assert [(t["name"], t["type"], t["weight"]) for t in report["terms"]] == [
        ("up", "reward", 2.0),
        ("effort", "penalty", -0.01),
    ]


def test_vector_valued_term_fails_the_trace_check(client: TestClient) -> None:  # type: ignore[type-arg]
    program = "WEIGHTS = dict(speed=1.0)\n\n\ndef speed(s):\n    return s.qvel\n"
    report = client.post(
        "/api/rewards/validate", json={"scene_id": "CartpoleBalance", "program": program}
    ).json()
    assert report["ok"] is False
    assert report["errors"][0]["stage"] == "trace"
    assert "speed" in report["errors"][0]["message"]


def test_vocabulary_lists_cartpole_quantities(client: TestClient) -> None:  # type: ignore[type-arg]
    vocabulary = client.get("/api/rewards/vocabulary/CartpoleBalance").json()
    names = {entry["name"] for entry in vocabulary["entries"]}
    assert {"pole_angle", "cart_position", "action", "qpos"} <= names
    assert "save" not in vocabulary["jnp_functions"]
    assert client.get("/api/rewards/vocabulary/Nope").status_code == 404


def test_providers_select_and_keys_never_echo_the_key(client: TestClient) -> None:  # type: ignore[type-arg]
    listing = client.get("/api/llm/providers").json()
    assert {p["name"] for p in listing["providers"]} == {
        "builtin",
        "ollama",
        "anthropic",
        "openai",
        "deepseek",
        "gemini",
    }
    selected = client.post("/api/llm/select", json={"provider": "builtin"}).json()
    assert selected["active"] == "builtin"
    saved = client.post("/api/llm/keys", json={"provider": "anthropic", "api_key": FAKE_KEY})
    assert saved.status_code == 200
    anthropic = next(p for p in saved.json()["providers"] if p["name"] == "anthropic")
    assert anthropic["configured"] is True
    assert anthropic["key_source"] == "saved"
    assert FAKE_KEY not in saved.text
    assert FAKE_KEY not in client.get("/api/llm/providers").text
    assert client.post("/api/llm/select", json={"provider": "nobody"}).status_code == 400
