"""Shared fixtures: settings in a temporary data dir, and a test client that speaks as the real UI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient

from server.app import create_app
from server.settings import Settings, load_settings

TEST_PORT = 48123  # never bound: the TestClient calls the app in process, but the Host check needs it


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    settings = load_settings(data_dir=tmp_path / "data", port=TEST_PORT)
    return msgspec.structs.replace(settings, build_scenes_on_start=False)


def make_client(settings: Settings, *, authorised: bool = True) -> TestClient:  # type: ignore[type-arg]
    client = TestClient(create_app(settings), base_url=f"http://127.0.0.1:{settings.port}")
    if authorised:
        client.headers["Authorization"] = f"Bearer {settings.token}"
    return client


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with make_client(app_settings) as test_client:
        yield test_client
