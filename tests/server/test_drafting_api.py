"""Drafting through the API: the offline drafter end to end (real scene, real trace check in a worker),
validation of edited programs, provider listing/selection/keys, and the failure paths."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient

from server.settings import load_settings
from tests.conftest import TEST_PORT, make_client
from tests.llm.stubs import Reply, StubServer

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
    # Its success check, validated on real rollouts of the scene: figures with their requirements.
    assert body["check_source"] == "builtin"
    assert "AT_LEAST" in body["check"] or "AT_MOST" in body["check"]
    check = body["check_validation"]
    assert check["ok"] is True, check["errors"]
    assert check["figures"] and all(f["code"].startswith("def ") for f in check["figures"])
    assert all(f["at_least"] is not None or f["at_most"] is not None for f in check["figures"][:1])
    assert "pole_angle" in body["check"]  # judged on the pole itself, never on reward terms


def test_builtin_draft_for_go1_is_validated(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.post(
        "/api/policy/generate",
        json={"task_description": "make the dog walk backwards", "scene_id": "Go1JoystickFlatTerrain"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["validation"]["ok"] is True
    assert "base_lin_vel" in body["program"]
    assert body["check_source"] == "builtin" and "AT_" in body["check"]
    # Its figures come from the static check. Whether the trace check on Go1's real rollouts finishes is
    # the checker's business (on a loaded 2-core machine it can exceed the worker's 240 s limit): the
    # Cartpole test above asserts a check validated end to end.
    assert body["check_validation"]["figures"], body["check_validation"]["errors"]


CARTPOLE_REWARD = """WEIGHTS = dict(up=1.0)


def up(s):
    return jnp.cos(s.pole_angle)
"""
CARTPOLE_CHECK = """AT_LEAST = dict(upright=0.95)
AT_MOST = dict(cart_travel=1.5)


def upright(s):
    return jnp.mean(jnp.abs(s.pole_angle) < 0.31)


def cart_travel(s):
    return jnp.max(jnp.abs(s.cart_position))
"""


def test_provider_check_is_validated_on_real_rollouts_and_repaired(client: TestClient) -> None:  # type: ignore[type-arg]
    """A model's check goes through the real check validator: one that reads nothing from the rollout is
    refused with a located error, sent back, and the corrected check is returned with its figures."""
    stub = StubServer("anthropic").start()
    llm = client.app.state.services.llm
    saved = llm.config
    try:
        constant = CARTPOLE_CHECK.replace("jnp.max(jnp.abs(s.cart_position))", "0.5")
        stub.queue(
            Reply(text=f"```python\n{CARTPOLE_REWARD}```\n```python\n{constant}```"),
            Reply(text=f"```python\n{CARTPOLE_REWARD}```\n```python\n{CARTPOLE_CHECK}```"),
        )
        # The app's own LLM service, pointed at the stub on 127.0.0.1 (no second app, no second worker).
        anthropic = msgspec.structs.replace(saved.anthropic, base_url=stub.url)
        llm.config = msgspec.structs.replace(saved, anthropic=anthropic, max_retries=0)
        assert (
            client.post("/api/llm/keys", json={"provider": "anthropic", "api_key": FAKE_KEY}).status_code
            == 200
        )
        response = client.post(
            "/api/policy/generate",
            json={"task_description": "keep it up", "scene_id": "CartpoleBalance", "provider": "anthropic"},
        )
    finally:
        llm.config = saved
        asyncio.run(llm.forget_key("anthropic"))  # the no-key test below needs none saved
        stub.stop()
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["provider"], body["attempts"], body["check_source"]) == ("anthropic", 2, "provider")
    assert body["check"] == CARTPOLE_CHECK and body["program"] == CARTPOLE_REWARD
    assert body["check_validation"]["ok"] is True
    figures = body["check_validation"]["figures"]
    assert [(f["name"], f["at_least"], f["at_most"]) for f in figures] == [
        ("upright", 0.95, None),
        ("cart_travel", None, 1.5),
    ]
    repair = stub.chats()[1].text
    assert "rejected the check program" in repair and "cart_travel" in repair
    assert "The reward program was accepted" in repair


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
    client: TestClient,  # type: ignore[type-arg]
    body: dict[str, object],
    field: str,
) -> None:
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
