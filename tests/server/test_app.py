"""The app's own endpoints and its local-access rules (token, Host, Origin), failure paths included."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from server.policies.manifest import MANIFEST_FILE
from server.rewards.checker import RewardChecker, RewardWorkerError
from server.rewards.types import Vocabulary
from server.scenes.registry import SceneRegistry, UnknownScene
from server.scenes.types import SceneInfo
from server.services import Services
from server.settings import Settings
from tests.conftest import make_client
from tests.policies.helpers import stage_policy


def test_health_reports_versions(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["mujoco_version"] == "3.14.0"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic abc", "Bearer "])
def test_api_refuses_missing_or_wrong_token(app_settings: Settings, authorization: str | None) -> None:
    with make_client(app_settings, authorised=False) as client:
        headers = {"Authorization": authorization} if authorization else {}
        response = client.get("/api/health", headers=headers)
    assert response.status_code == 401
    assert "token" in response.json()["detail"]


def test_unknown_api_path_still_needs_the_token(app_settings: Settings) -> None:
    with make_client(app_settings, authorised=False) as client:
        assert client.get("/api/nothing-here").status_code == 401


@pytest.mark.parametrize("host", ["evil.example:48123", "127.0.0.1:1", "localhost.evil.com:48123"])
def test_foreign_host_is_refused(client: TestClient, host: str) -> None:  # type: ignore[type-arg]
    response = client.get("/api/health", headers={"Host": host})
    assert response.status_code == 403
    assert "Host" in response.json()["detail"]


def test_foreign_host_is_refused_for_the_page_too(client: TestClient) -> None:  # type: ignore[type-arg]
    assert client.get("/", headers={"Host": "rebound.example:48123"}).status_code == 403


def test_localhost_name_is_accepted(client: TestClient) -> None:  # type: ignore[type-arg]
    assert client.get("/api/health", headers={"Host": "localhost:48123"}).status_code == 200


def test_cross_origin_request_is_refused(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.put(
        "/api/preferences", json={"last_scene_id": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert "cross-origin" in response.json()["detail"]
    # and nothing was written
    assert client.get("/api/preferences").json()["last_scene_id"] is None


def test_same_origin_request_is_accepted(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.put(
        "/api/preferences", json={"last_scene_id": "Go1Getup"}, headers={"Origin": "http://127.0.0.1:48123"}
    )
    assert response.status_code == 200


def test_remote_mode_accepts_other_hosts_but_still_needs_the_token(app_settings: Settings) -> None:
    settings = msgspec.structs.replace(app_settings, host="0.0.0.0", allow_remote=True)
    with make_client(settings) as client:
        assert client.get("/api/health", headers={"Host": "192.0.2.7:48123"}).status_code == 200
    with make_client(settings, authorised=False) as client:
        assert client.get("/api/health", headers={"Host": "192.0.2.7:48123"}).status_code == 401


def test_malformed_body_names_the_field(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.put("/api/preferences", json={"follow_camera": "yes please"})
    assert response.status_code == 400
    assert "follow_camera" in response.text


def test_unknown_field_is_rejected(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.put("/api/preferences", json={"last_scene": "Go1Getup"})
    assert response.status_code == 400
    assert "last_scene" in response.text


def test_not_json_is_a_400(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.put(
        "/api/preferences", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_invalid_utf8_in_a_json_string_is_a_400(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.put(
        "/api/preferences",
        content=b'{"last_scene_id": "Go1\xff\xfe"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]
    assert client.get("/api/preferences").json()["last_scene_id"] is None


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_a_400(client: TestClient, depth: int) -> None:  # type: ignore[type-arg]
    nested = b"[" * depth + b"]" * depth
    # An ignored field: msgspec still walks it (and used to raise RecursionError, a 500).
    response = client.post(
        "/api/diagnostics/client",
        content=b'{"webgl": true, "extra": ' + nested + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert client.get("/api/diagnostics").json()["client"] is None
    # and in a typed field or as the whole body
    for body in (b'{"last_scene_id": ' + nested + b"}", nested):
        response = client.put("/api/preferences", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400


@pytest.mark.parametrize("webgl", [0, 1, "true", None])
def test_diagnostics_flag_must_be_a_boolean(client: TestClient, webgl: object) -> None:  # type: ignore[type-arg]
    response = client.post("/api/diagnostics/client", json={"webgl": webgl})
    assert response.status_code == 400
    assert response.json()["extra"][0]["key"] == "webgl"
    assert client.get("/api/diagnostics").json()["client"] is None


def test_json_bodies_are_not_coerced(client: TestClient) -> None:  # type: ignore[type-arg]
    """Numbers, strings and booleans are not converted into each other (Litestar's default is lax)."""
    response = client.put("/api/preferences", json={"follow_camera": 0})
    assert response.status_code == 400
    assert response.json()["extra"] == [
        {"message": "Expected `bool`, got `int`", "key": "follow_camera", "source": "body"}
    ]
    response = client.put("/api/training/settings", json={"backend": "local", "modal_max_concurrent": "5"})
    assert response.status_code == 400
    assert "modal_max_concurrent" in response.text


@pytest.mark.parametrize("scene_id", ["", "x" * 101, "x" * 9_000_000])
def test_preferences_are_bounded(client: TestClient, scene_id: str) -> None:  # type: ignore[type-arg]
    response = client.put("/api/preferences", json={"last_scene_id": scene_id})
    assert response.status_code == 400
    assert response.json()["extra"][0]["key"] == "last_scene_id"
    assert client.get("/api/preferences").json()["last_scene_id"] is None


def test_an_integral_float_is_an_integer(client: TestClient) -> None:  # type: ignore[type-arg]
    """JSON Schema calls 170.0 an integer; so does the server (schemathesis sent one)."""
    response = client.put("/api/training/settings", json={"modal_max_concurrent": 170.0})
    assert response.status_code == 200, response.text
    assert client.get("/api/training/settings").json()["modal_max_concurrent"] == 170
    assert client.put("/api/training/settings", json={"modal_max_concurrent": 170.5}).status_code == 400


def test_a_zero_bound_reaches_the_schema(client: TestClient) -> None:  # type: ignore[type-arg]
    """Litestar dropped `gt=0` from the schema, so generated clients sent 0 and got a 400."""
    schema = client.get("/api/schema/openapi.json").json()
    assert schema["components"]["schemas"]["JobSpec"]["properties"]["time_budget_s"]["exclusiveMinimum"] == 0
    body = {"scene_id": "CartpoleBalance", "program": "x", "time_budget_s": 0}
    response = client.post("/api/training/start", json=body)
    assert response.status_code == 400
    assert response.json()["extra"][0]["key"] == "time_budget_s"


class _OneScene(SceneRegistry):
    """A registry that knows one scene (a subclass: handlers receive the registry by its type)."""

    def __init__(self) -> None:
        pass

    async def get(self, scene_id: str) -> SceneInfo:
        if scene_id != "Known":
            raise UnknownScene(scene_id, ["Known"])
        return None  # type: ignore[return-value]

    async def close(self) -> None:
        pass


class _FailingRewards(RewardChecker):
    """The reward checker's worker does not know the scene, or cannot answer at all."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def vocabulary(self, scene_id: str) -> Vocabulary:
        raise self.error

    async def close(self) -> None:
        pass


def _with_rewards(app: Litestar, rewards: RewardChecker) -> None:
    async def swap(app: Litestar) -> None:
        services: Services = app.state.services
        await services.rewards.close()
        services.scenes = _OneScene()
        services.rewards = rewards

    app.on_startup.append(swap)


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (UnknownScene("Known", []), 404, "unknown scene 'Known'"),
        (RewardWorkerError("the worker process died"), 503, "the reward checker failed: the worker"),
    ],
)
def test_reward_checker_failures_are_answered_not_500(
    app_settings: Settings, error: Exception, status: int, detail: str
) -> None:
    """Schemathesis found GET /api/rewards/vocabulary/{id} answering 500 for a scene the registry lists but
    the reward worker cannot load; the app's exception handlers now answer for every route."""
    client = make_client(app_settings)
    _with_rewards(client.app, _FailingRewards(error))
    with client:
        response = client.get("/api/rewards/vocabulary/Known")
        assert response.status_code == status
        assert response.json()["detail"].startswith(detail)
        assert client.get("/api/rewards/vocabulary/Unknown").json()["extra"] == {"valid_ids": ["Known"]}


def test_training_config_keeps_its_types_and_has_one_schema(client: TestClient) -> None:  # type: ignore[type-arg]
    """`training_config` was `oneOf [number, integer, ...]`, which no integer satisfies (it matches twice);
    the schema now says `number | boolean | string` while manifests keep ints as ints, byte for byte."""
    schema = client.get("/api/schema/openapi.json").json()["components"]["schemas"]["PolicyManifest"]
    assert schema["properties"]["training_config"]["additionalProperties"] == {
        "type": ["number", "boolean", "string"]
    }
    services: Services = client.app.state.services
    staging = services.policies.root / "staging"
    manifest = stage_policy(staging)
    written = (staging / MANIFEST_FILE).read_bytes()
    config = {"preset": "cpu_quick", "num_timesteps": 100, "learning_rate": 0.0003, "obs_is_dict": False}
    old = msgspec.json.decode(written).copy()
    old["training_config"] = config  # as a manifest written before this change stores it
    (staging / MANIFEST_FILE).write_bytes(msgspec.json.encode(old))
    policy_id = services.policies.add(staging).policy_id
    served = client.get(f"/api/models/{policy_id}").json()["training_config"]
    assert served == config and isinstance(served["num_timesteps"], int)
    assert manifest.training_config == {"num_timesteps": 100}


def test_preferences_survive_a_restart(app_settings: Settings) -> None:
    with make_client(app_settings) as client:
        assert client.put("/api/preferences", json={"last_scene_id": "Go1Getup"}).status_code == 200
    with make_client(app_settings) as client:
        assert client.get("/api/preferences").json() == {"last_scene_id": "Go1Getup", "follow_camera": True}
    assert app_settings.database_path.is_file()


def test_diagnostics_keeps_the_client_report(client: TestClient) -> None:  # type: ignore[type-arg]
    assert client.get("/api/diagnostics").json()["client"] is None
    report = {"webgl": True, "webgl_renderer": "SwiftShader", "user_agent": "x" * 2000}
    assert client.post("/api/diagnostics/client", json=report).status_code == 204
    received = client.get("/api/diagnostics").json()["client"]
    assert received["webgl"] is True
    assert received["webgl_renderer"] == "SwiftShader"
    assert len(received["user_agent"]) == 500


def test_diagnostics_report_needs_webgl_flag(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.post("/api/diagnostics/client", json={"webgl_renderer": "x"})
    assert response.status_code == 400
    assert "webgl" in response.text


def test_openapi_schema_is_served_to_token_holders(client: TestClient) -> None:  # type: ignore[type-arg]
    schema = client.get("/api/schema/openapi.json").json()
    assert "/api/health" in schema["paths"]
    assert "SceneInfo" in schema["components"]["schemas"]


def test_spa_fallback_serves_index_for_client_routes(app_settings: Settings, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    settings = msgspec.structs.replace(app_settings, ui_dist=dist)
    with make_client(settings, authorised=False) as client:
        page = client.get("/library/some-policy")
        assert page.status_code == 200
        assert "root" in page.text
        assert client.get("/").status_code == 200
        assert client.get("/assets/index-stale.js").status_code == 404
    with make_client(settings) as client:
        missing = client.get("/api/no-such-thing")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/json")


def test_api_process_imports_no_heavy_or_model_running_modules() -> None:
    """The API process starts fast and never holds JAX, Playground or MuJoCo; SDKs load on first use."""
    import subprocess
    import sys

    code = (
        "import sys, server.app, desktop.cli; "
        "print(sorted(m for m in ('jax', 'mujoco', 'mujoco_playground', 'brax', 'anthropic', 'openai', "
        "'ollama') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
