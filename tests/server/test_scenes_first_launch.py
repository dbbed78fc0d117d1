"""First launch: the shipped catalogue lists every scene at once, a shipped pack makes scenes ready without
an export, the first scene is exported first, and a damaged cache is exported again, never served."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from server.scenes.registry import FIRST_SCENE, SceneRegistry, _check_model, cache_key
from server.scenes.shipped import SHIPPED_CATALOG, ShippedCatalog, read_shipped_catalog
from server.scenes.types import SceneFamily, SceneInfo
from tests.server.test_scenes import fake_exporter, good_only, load_mjb, refuse, wait_complete

# What `export.list_scenes` (the worker-side lister) reports, in a fresh interpreter: Playground itself.
_LIST_NOW = (
    "import json, importlib.metadata; from server.scenes import export; "
    "print(json.dumps({'playground': importlib.metadata.version('playground'), "
    "'scenes': export.list_scenes()}))"
)


def good_and_later() -> list[tuple[str, SceneFamily]]:
    return [("Good", "classic_control"), ("Later", "classic_control")]


def test_shipped_catalogue_is_what_playground_lists_now() -> None:
    """Fails after a Playground upgrade until `python -m server.scenes.shipped` regenerates the file."""
    out = subprocess.run(
        [sys.executable, "-c", _LIST_NOW], capture_output=True, text=True, check=True, timeout=300
    )
    now = json.loads(out.stdout)
    shipped = msgspec.json.decode(SHIPPED_CATALOG.read_bytes(), type=ShippedCatalog)
    assert shipped.playground == now["playground"]
    assert [list(row) for row in shipped.scenes] == now["scenes"]
    assert len(shipped.scenes) == 54


def test_shipped_catalogue_of_another_playground_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "playground.json"
    path.write_bytes(msgspec.json.encode(ShippedCatalog(playground="0.0.1", scenes=[("Old", "locomotion")])))
    assert read_shipped_catalog(path) is None
    path.write_bytes(b'{"playground": "0.2')  # damaged: ignored, not a crash
    assert read_shipped_catalog(path) is None
    assert read_shipped_catalog(tmp_path / "missing.json") is None
    assert read_shipped_catalog() is not None  # the real one matches the installed Playground


def test_every_scene_is_listed_at_start_and_the_first_scene_exports_first(tmp_path: Path) -> None:
    async def run() -> None:
        # lister=None: Playground's scenes from the shipped catalogue, no worker asked to list them.
        registry = SceneRegistry(tmp_path, workers=1, exporter=fake_exporter, pack_dir=None)
        registry.start()
        try:
            snapshot = registry.snapshot()  # at once, before any worker has done anything
            shipped = read_shipped_catalog()
            assert shipped is not None
            assert snapshot.pending == [scene_id for scene_id, _ in shipped]
            assert not snapshot.complete and snapshot.scenes == []
            # The picker lists them by name, family and robot from the catalogue.
            named = {p.id: p for p in snapshot.pending_scenes}
            assert [p.id for p in snapshot.pending_scenes] == snapshot.pending
            assert (named["CartpoleBalance"].name, named["CartpoleBalance"].robot) == (
                "Cartpole Balance",
                "Cartpole",
            )
            assert (named["Go1JoystickFlatTerrain"].family, named["Go1JoystickFlatTerrain"].kind) == (
                "locomotion",
                "quadruped",
            )
            # Nobody asked for a scene yet: the background worker starts with the one the UI opens first.
            order_log = registry.scenes_dir / "order.log"
            while not order_log.exists():
                await asyncio.sleep(0.05)
            assert order_log.read_text().split()[0] == FIRST_SCENE == "CartpoleBalance"  # not AcrobotSwingup
        finally:
            await registry.close()

    asyncio.run(run())


def test_a_scene_someone_waits_for_is_exported_at_once_at_normal_priority(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> None:
        registry = SceneRegistry(tmp_path, workers=1, exporter=fake_exporter, pack_dir=None)
        registry.start()
        try:
            # SpotGetup is near the end of the background queue; the request does not wait for the rest.
            assert (await registry.get("SpotGetup")).id == "SpotGetup"
            assert len(registry.snapshot().scenes) < 30
            assert (await registry.get("SpotGetup")).id == "SpotGetup"  # ready: answered from memory
        finally:
            await registry.close()

    with caplog.at_level(logging.INFO, logger="server.scenes.registry"):
        asyncio.run(run())
    assert "scene SpotGetup exported" in caplog.text
    assert caplog.text.count("scene SpotGetup exported") == 1
    (line,) = [r.getMessage() for r in caplog.records if "SpotGetup exported" in r.getMessage()]
    assert "scene-worker-urgent" in line


def test_scene_lanes_run_at_the_lowest_priority() -> None:
    from server.scenes.lanes import Lane

    async def run() -> tuple[int, int]:
        lane = Lane("priority-test", low_priority=True)
        try:
            return await lane.call(60, os.getpriority, os.PRIO_PROCESS, 0), await lane.call(
                60, os.sched_getscheduler, 0
            )
        finally:
            await lane.close()

    nice, policy = asyncio.run(run())
    assert nice == 19
    assert policy == os.SCHED_IDLE

    async def normal() -> int:
        lane = Lane("priority-test")  # the lane for scenes someone waits for
        try:
            return await lane.call(60, os.getpriority, os.PRIO_PROCESS, 0)
        finally:
            await lane.close()

    assert asyncio.run(normal()) == os.getpriority(os.PRIO_PROCESS, 0)


def _make_pack(tmp_path: Path) -> Path:
    """A pack as `python -m server.scenes.pack` lays it out, from a real (fake-scene) export."""

    async def export() -> Path:
        registry = SceneRegistry(
            tmp_path / "source", workers=1, lister=good_and_later, exporter=fake_exporter, pack_dir=None
        )
        registry.start()
        try:
            await wait_complete(registry)
        finally:
            await registry.close()
        return registry.scenes_dir

    source = asyncio.run(export())
    pack_dir = tmp_path / "pack"
    shutil.copytree(source, pack_dir / cache_key(), ignore=shutil.ignore_patterns("order.log"))
    return pack_dir


def test_a_shipped_pack_makes_scenes_ready_without_an_export(tmp_path: Path) -> None:
    pack_dir = _make_pack(tmp_path)

    async def run() -> None:
        registry = SceneRegistry(
            tmp_path / "fresh",
            lister=good_and_later,
            exporter=refuse,  # type: ignore[arg-type]
            pack_dir=pack_dir,
        )
        registry.start()
        try:
            await wait_complete(registry, timeout_s=60)  # the lister runs in a worker; no export does
            snapshot = registry.snapshot()
            assert [s.id for s in snapshot.scenes] == ["Good", "Later"] and snapshot.failed == []
            info = await registry.get("Good")
            _, mjb = load_mjb(registry.model_path("Good"))  # copied into the cache, served from there
            assert hashlib.sha256(mjb).hexdigest() == info.model_sha256
        finally:
            await registry.close()

    asyncio.run(run())


def test_a_pack_for_other_versions_is_ignored(tmp_path: Path) -> None:
    pack_dir = _make_pack(tmp_path)
    (pack_dir / cache_key()).rename(pack_dir / "0123456789abcdef")

    async def run() -> None:
        registry = SceneRegistry(
            tmp_path / "fresh", workers=1, lister=good_only, exporter=fake_exporter, pack_dir=pack_dir
        )
        registry.start()
        try:
            await wait_complete(registry)
        finally:
            await registry.close()
        assert (registry.scenes_dir / "order.log").read_text().split() == ["Good"]  # exported, not seeded

    asyncio.run(run())


# --- a damaged cache ---------------------------------------------------------------------------------


def _export_good(cache: Path) -> SceneInfo:
    async def run() -> SceneInfo:
        registry = SceneRegistry(cache, workers=1, lister=good_only, exporter=fake_exporter, pack_dir=None)
        registry.start()
        try:
            return await registry.get("Good")
        finally:
            await registry.close()

    return asyncio.run(run())


def _reopen(cache: Path) -> tuple[SceneInfo, list[str], bytes]:
    """Open the cache again; returns what is served for Good, the export order and the served model."""

    async def run() -> tuple[SceneInfo, list[str], bytes]:
        registry = SceneRegistry(cache, workers=1, lister=good_only, exporter=fake_exporter, pack_dir=None)
        registry.start()
        try:
            info = await registry.get("Good")
            model = registry.model_path("Good").read_bytes()
        finally:
            await registry.close()
        order_log = registry.scenes_dir / "order.log"
        return info, order_log.read_text().split(), model

    return asyncio.run(run())


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[10:20] = b"\xff" * 10  # the start of the deflate stream
    path.write_bytes(bytes(data))


def _not_gzip(path: Path) -> None:
    path.write_bytes(b"<html>not a model</html>")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _flip_header, _not_gzip, _empty])
def test_a_damaged_model_is_exported_again_never_served(
    tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    first = _export_good(tmp_path)
    scenes_dir = tmp_path / "scenes" / cache_key()
    model = scenes_dir / "Good.mjb.gz"
    assert _check_model(model, first.model_bytes) is None
    damage(model)  # type: ignore[operator]
    assert _check_model(model, first.model_bytes) is not None

    with caplog.at_level(logging.WARNING, logger="server.scenes.registry"):
        info, order, served = _reopen(tmp_path)
    assert order == ["Good", "Good"]  # exported again
    assert "damaged scene model" in caplog.text and "Good.mjb.gz" in caplog.text
    assert info.model_sha256 == first.model_sha256
    assert hashlib.sha256(gzip.decompress(served)).hexdigest() == first.model_sha256


@pytest.mark.parametrize("content", [b"", b'{"id": "Good", "fam', b'{"id": "Other"}', b"[1, 2]"])
def test_a_damaged_description_is_exported_again(tmp_path: Path, content: bytes) -> None:
    first = _export_good(tmp_path)
    (tmp_path / "scenes" / cache_key() / "Good.json").write_bytes(content)
    info, order, _ = _reopen(tmp_path)
    assert order == ["Good", "Good"]
    assert info == first


def test_a_damaged_scene_catalogue_is_listed_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _export_good(tmp_path)
    catalog = tmp_path / "scenes" / cache_key() / "catalog.json"
    catalog.write_bytes(catalog.read_bytes()[:7])
    with caplog.at_level(logging.WARNING, logger="server.scenes.registry"):
        info, order, _ = _reopen(tmp_path)
    assert "damaged scene catalogue" in caplog.text
    assert info.id == "Good" and order == ["Good"]  # listed again; the intact scene is not re-exported
    assert msgspec.json.decode(catalog.read_bytes())["scenes"] == [["Good", "classic_control"]]
