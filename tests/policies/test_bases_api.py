"""Base policies in the library, through the real app and the real library: a user's policy marked (and
unmarked) as a base, protected from deletion while marked; shipped bases (a `bases_dir` folder) listed
beside the user's, readable and exportable, never renamed, unmarked or deleted."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient

from server.policies.library import PolicyLibrary, PolicyProtected
from server.policies.manifest import MANIFEST_FILE, PolicyManifest, read_checked
from server.settings import Settings
from tests.conftest import make_client
from tests.policies.helpers import add_policy, stage_policy
from tests.policies.test_library_api import library_of, use_stubs

SHIPPED_ID = "5" * 32


def ship_base(bases_dir: Path, scene_id: str = "CartpoleBalance") -> PolicyManifest:
    """A shipped base folder as scripts/build_bases.py leaves it."""
    folder = bases_dir / scene_id
    manifest = stage_policy(folder, params=b"shipped params", name=f"{scene_id} base")
    manifest = msgspec.structs.replace(
        manifest,
        policy_id=SHIPPED_ID,
        scene_id=scene_id,
        is_base=True,
        params_sha256=hashlib.sha256(b"shipped params").hexdigest(),
    )
    (folder / MANIFEST_FILE).write_bytes(msgspec.json.encode(manifest))
    return manifest


@pytest.fixture
def api(app_settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    ship_base(app_settings.bases_dir)
    client = make_client(app_settings)
    use_stubs(client.app, rewards=True)
    with client:
        yield client


def test_mark_a_policy_as_base(api: TestClient) -> None:  # type: ignore[type-arg]
    policy_id = add_policy(library_of(api)).policy_id
    listed = {p["id"]: p for p in api.get("/api/models").json()}
    assert listed[policy_id]["base"] is None

    marked = api.post(f"/api/models/{policy_id}/base", json={"base": True})
    assert marked.status_code == 200, marked.text
    assert (marked.json()["id"], marked.json()["base"]) == (policy_id, "user")
    assert {p["id"]: p for p in api.get("/api/models").json()}[policy_id]["base"] == "user"
    assert api.get(f"/api/models/{policy_id}").json()["is_base"] is True
    # Idempotent; a renamed base stays a base (the rename rewrites the same manifest).
    assert api.post(f"/api/models/{policy_id}/base", json={"base": True}).json()["base"] == "user"
    assert api.patch(f"/api/models/{policy_id}", json={"name": "Walker"}).status_code == 200
    assert api.get(f"/api/models/{policy_id}").json()["is_base"] is True

    refused = api.delete(f"/api/models/{policy_id}")
    assert refused.status_code == 409
    assert "unmark it as a base first" in refused.json()["detail"]
    assert refused.json()["extra"] == {"policy_id": policy_id}

    unmarked = api.post(f"/api/models/{policy_id}/base", json={"base": False})
    assert unmarked.status_code == 200 and unmarked.json()["base"] is None
    assert api.delete(f"/api/models/{policy_id}").status_code == 204


def test_bad_base_requests(api: TestClient) -> None:  # type: ignore[type-arg]
    policy_id = add_policy(library_of(api)).policy_id
    assert api.post(f"/api/models/{'0' * 32}/base", json={"base": True}).status_code == 404
    assert api.post("/api/models/..%2Fx/base", json={"base": True}).status_code == 404
    assert api.post(f"/api/models/{policy_id}/base", json={"base": "yes"}).status_code == 400
    assert api.post(f"/api/models/{policy_id}/base", json={}).status_code == 400
    assert api.post(f"/api/models/{policy_id}/base", json={"base": True, "x": 1}).status_code == 400


def test_shipped_bases_are_listed_and_read_only(api: TestClient) -> None:  # type: ignore[type-arg]
    mine = add_policy(library_of(api)).policy_id
    listed = api.get("/api/models").json()
    assert [p["id"] for p in listed] == [mine, SHIPPED_ID]  # the user's first, then the shipped ones
    assert (listed[1]["base"], listed[1]["scene_id"]) == ("shipped", "CartpoleBalance")

    assert api.get(f"/api/models/{SHIPPED_ID}").json()["is_base"] is True
    assert api.get(f"/api/models/{SHIPPED_ID}/export").status_code == 200
    assert api.post(f"/api/models/{SHIPPED_ID}/review").status_code == 200  # nothing to review
    assert api.post(f"/api/models/{SHIPPED_ID}/base", json={"base": True}).json()["base"] == "shipped"

    deleted = api.delete(f"/api/models/{SHIPPED_ID}")
    assert deleted.status_code == 409 and deleted.json()["detail"] == "a shipped base cannot be deleted"
    assert api.patch(f"/api/models/{SHIPPED_ID}", json={"name": "x"}).status_code == 409
    assert api.post(f"/api/models/{SHIPPED_ID}/base", json={"base": False}).status_code == 409
    folder = api.app.state.services.settings.bases_dir / "CartpoleBalance"
    assert read_checked(folder).name == "CartpoleBalance base"  # untouched


def test_library_bases_order_and_import(tmp_path: Path) -> None:
    ship_base(tmp_path / "bases")
    library = PolicyLibrary(tmp_path / "data", shipped_dir=tmp_path / "bases")
    older = add_policy(library).policy_id
    newer = add_policy(library).policy_id
    for policy_id in (older, newer):
        library.set_base(policy_id, True)
    assert [b.id for b in library.bases("CartpoleBalance")] == [SHIPPED_ID, newer, older]
    assert library.bases("CartpoleSwingup") == []
    # An import of a base is not a base until its user marks it.
    imported = library.add_imported(library.get(newer), b"params")
    assert imported.is_base is False
    with pytest.raises(PolicyProtected, match="read-only"):
        library.rename(SHIPPED_ID, "x")
    # Without a shipped folder, or with an unreadable entry in it, the user's policies still list.
    (tmp_path / "bases" / "Broken").mkdir()
    assert len(PolicyLibrary(tmp_path / "data", shipped_dir=tmp_path / "bases").list()) == 4
    assert len(PolicyLibrary(tmp_path / "data").list()) == 3
