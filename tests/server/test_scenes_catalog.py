"""The full catalog: every Playground env exports offline and its MJB loads back with matching facts.

Slow (a few minutes on 2 cores): run with `pytest -m slow`. Prints the build time and worker memory.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter
from pathlib import Path

import mujoco
import pytest

from server.scenes.catalog import robot_entry
from server.scenes.types import SceneList
from tests.conftest import build_scene_cache
from tests.server.menagerie_robots import MENAGERIE_ROBOTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def catalog(scene_cache: Path) -> tuple[SceneList, Path]:
    # The shared fixture built (or found) the full cache; a fresh registry reads it without workers.
    registry = build_scene_cache(scene_cache)
    return registry.snapshot(), registry.scenes_dir


def test_every_playground_env_is_ready(catalog: tuple[SceneList, Path]) -> None:
    from mujoco_playground import registry

    snapshot, _ = catalog
    assert snapshot.failed == []
    assert snapshot.pending == []
    ids = [s.id for s in snapshot.scenes]
    assert sorted(ids) == sorted(registry.ALL_ENVS)
    assert len(ids) == 54
    assert Counter(s.family for s in snapshot.scenes) == {
        "classic_control": 25,
        "locomotion": 19,
        "manipulation": 10,
    }
    # dm_control first, so the quickest scenes (Cartpole) are ready first on a fresh install.
    assert snapshot.scenes[0].family == "classic_control"


def test_every_scene_has_hand_written_robot_metadata(catalog: tuple[SceneList, Path]) -> None:
    snapshot, _ = catalog
    missing = [s.id for s in snapshot.scenes if robot_entry(s.id) is None]
    assert missing == []
    # What the API serves comes from that entry: a kind and a few example tasks for every scene.
    assert [s.id for s in snapshot.scenes if (entry := robot_entry(s.id)) and s.kind != entry.kind] == []
    assert [s.id for s in snapshot.scenes if len(s.examples) < 2] == []
    used = {entry.menagerie for s in snapshot.scenes if (entry := robot_entry(s.id)) and entry.menagerie}
    assert used == MENAGERIE_ROBOTS


def test_every_mjb_loads_and_matches_its_description(catalog: tuple[SceneList, Path], tmp_path: Path) -> None:
    snapshot, scenes_dir = catalog
    for info in snapshot.scenes:
        mjb = gzip.decompress((scenes_dir / f"{info.id}.mjb.gz").read_bytes())
        assert (len(mjb), hashlib.sha256(mjb).hexdigest()) == (info.model_bytes, info.model_sha256), info.id
        path = tmp_path / f"{info.id}.mjb"
        path.write_bytes(mjb)
        model = mujoco.MjModel.from_binary_path(str(path))
        path.unlink()
        assert model.nu == info.num_actuators, info.id
        assert model.opt.timestep == pytest.approx(info.sim_dt), info.id
        assert [model.key(i).name for i in range(model.nkey)] == info.keyframes, info.id
        assert info.n_substeps == round(info.ctrl_dt / info.sim_dt), info.id
        assert info.mujoco_version == mujoco.__version__
        assert all(dims and all(d > 0 for d in dims) for dims in info.observation_size.values()), info.id


def test_every_scene_model_is_served_over_http(scene_cache: Path, tmp_path: Path) -> None:
    """The exact bytes the browser loads, for every scene, through the real app with its token check."""
    import msgspec

    from server.settings import load_settings
    from tests.conftest import TEST_PORT, make_client

    settings = msgspec.structs.replace(
        load_settings(data_dir=tmp_path, port=TEST_PORT), cache_dir=scene_cache
    )
    with make_client(settings) as client:
        listing = client.get("/api/playground/scenes").json()
        assert listing["complete"] is True
        assert len(listing["scenes"]) == 54
        for scene in listing["scenes"]:
            response = client.get(f"/api/playground/scenes/{scene['id']}/model.mjb")
            assert response.status_code == 200, scene["id"]
            assert response.headers["x-mujoco-version"] == mujoco.__version__
            # httpx undoes the gzip content-encoding, as the browser's fetch does.
            assert hashlib.sha256(response.content).hexdigest() == scene["model_sha256"], scene["id"]
