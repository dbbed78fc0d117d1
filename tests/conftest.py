"""Shared fixtures: settings in a temporary data dir, and a test client that speaks as the real UI."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient

from server.app import create_app
from server.scenes.registry import SceneRegistry
from server.settings import Settings, load_settings
from tests import session_cache

TEST_PORT = 48123  # never bound: the TestClient calls the app in process, but the Host check needs it
_kept_scene_cache: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _kept_scene_cache
    _kept_scene_cache = session_cache.claim()
    if _kept_scene_cache is not None:
        session_cache.use_for_this_process(_kept_scene_cache)


@pytest.fixture(scope="session", autouse=True)
def no_shipped_bases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Apps, CLIs and windows started by tests see no shipped bases unless a test passes its own
    ROBOCOACH_BASES_DIR: the planner's choice (fine-tune when a base exists) must not change with what the
    repository happens to ship."""
    previous = os.environ.get("ROBOCOACH_BASES_DIR")
    os.environ["ROBOCOACH_BASES_DIR"] = str(tmp_path_factory.mktemp("no-shipped-bases"))
    yield
    if previous is None:
        os.environ.pop("ROBOCOACH_BASES_DIR", None)
    else:
        os.environ["ROBOCOACH_BASES_DIR"] = previous


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    settings = load_settings(data_dir=tmp_path / "data", port=TEST_PORT)
    # No shipped bases: a test's library holds only what it adds (tests that need bases give their own).
    return msgspec.structs.replace(settings, build_scenes_on_start=False, bases_dir=tmp_path / "bases")


def make_client(settings: Settings, *, authorised: bool = True) -> TestClient:  # type: ignore[type-arg]
    client = TestClient(create_app(settings), base_url=f"http://127.0.0.1:{settings.port}")
    if authorised:
        client.headers["Authorization"] = f"Bearer {settings.token}"
    return client


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with make_client(app_settings) as test_client:
        yield test_client


def build_scene_cache(cache_dir: Path) -> SceneRegistry:
    """Exports every Playground scene into `cache_dir` (instant when already there); returns the registry."""

    async def build() -> SceneRegistry:
        registry = SceneRegistry(cache_dir, workers=2)
        registry.start()
        try:
            while not registry.snapshot().complete:
                await asyncio.sleep(0.5)
            return registry
        finally:
            await registry.close()

    started = time.perf_counter()
    # Its own thread: Playwright's sync API may already run an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        registry = thread.submit(lambda: asyncio.run(build())).result()
    peaks = ", ".join(
        f"{lane} {rss / 2**30:.2f} GiB" for lane, rss in sorted(registry.peak_rss_bytes.items())
    )
    print(
        f"\nscene cache: {time.perf_counter() - started:.0f} s with 2 workers; peak RSS {peaks or 'cached'}"
    )
    return registry


@pytest.fixture(scope="session")
def scene_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full scene cache for the whole run, shared by the catalog, end-to-end, window and real training
    tests: exporting all 54 Playground models takes minutes on 2 cores, so it happens once, and is kept
    between runs (tests/session_cache.py). ROBOCOACH_TEST_SCENE_CACHE names another folder, or `fresh`."""
    if _kept_scene_cache is not None:
        cache_dir = _kept_scene_cache  # pytest_configure already pointed this process's compiles at it
    else:
        given = os.environ.get("ROBOCOACH_TEST_SCENE_CACHE")
        cache_dir = Path(given) if given and given != "fresh" else tmp_path_factory.mktemp("scene-cache")
        session_cache.use_for_this_process(cache_dir)  # taken only if nothing compiled in process yet
    print(f"\nscene cache: {cache_dir}")
    build_scene_cache(cache_dir)
    return cache_dir
