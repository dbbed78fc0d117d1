"""Scene registry and /api/playground/scenes: real worker processes, fake envs for the failure paths."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import mujoco
import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.testing import TestClient

from server.api.errors import EXCEPTION_HANDLERS, SceneErrorBody, UnknownSceneBody
from server.api.scenes import ScenesController, etag_matches
from server.scenes import export
from server.scenes.catalog import describe, example_tasks, load_catalog, robot_kind, split_camel
from server.scenes.menagerie import prepare_menagerie
from server.scenes.registry import CatalogUnavailableError, SceneFailedError, SceneRegistry, UnknownScene
from server.scenes.types import SceneFamily, SceneInfo
from tests.server.menagerie_robots import MENAGERIE_ROBOTS

# --- fakes; module level so spawned workers can unpickle them -----------------------------------------

_TINY_XML = """<mujoco><worldbody><body><joint name="hinge"/><geom size=".1"/></body></worldbody>
<actuator><motor joint="hinge"/></actuator><keyframe><key name="home"/></keyframe></mujoco>"""


def fake_lister() -> list[tuple[str, SceneFamily]]:
    return [
        ("Good", "classic_control"),
        ("Bad", "classic_control"),
        ("Crash", "locomotion"),
        ("Later", "manipulation"),
    ]


def fake_exporter(scene_id: str, out_dir: Path, menagerie_dir: Path) -> export.ExportResult:
    """Good/Later: a one-hinge model; Bad: raises; Crash: the worker dies; Slow: never finishes in time."""
    if scene_id == "Bad":
        raise ValueError("mesh 'leg.stl' not found")
    if scene_id == "Crash":
        os._exit(7)
    if scene_id == "Slow":
        time.sleep(60)
    with (out_dir / "order.log").open("a") as log:
        log.write(scene_id + "\n")
    time.sleep(0.2)  # long enough for the test to reorder the queue while this runs
    model = mujoco.MjModel.from_xml_string(_TINY_XML)
    mjb = export.model_to_mjb(model)
    info = SceneInfo(
        id=scene_id,
        name=scene_id,
        family="classic_control",
        robot="Stick",
        kind="generic",
        examples=["Stand still"],
        num_actuators=model.nu,
        action_size=model.nu,
        observation_size={"state": [2]},
        ctrl_dt=0.02,
        sim_dt=model.opt.timestep,
        n_substeps=10,
        keyframes=["home"],
        model_bytes=len(mjb),
        model_sha256=hashlib.sha256(mjb).hexdigest(),
        mujoco_version=mujoco.__version__,
    )
    export.write_scene(info, mjb, out_dir)
    return export.ExportResult(info=info, seconds=0.2, peak_rss_bytes=export.peak_rss_bytes())


def slow_lister() -> list[tuple[str, SceneFamily]]:
    return [("Slow", "classic_control")]


def two_real_scenes() -> list[tuple[str, SceneFamily]]:
    # AeroCubeRotateZAxis: Menagerie meshes, and the one env without an "impl" config key.
    wanted = {"CartpoleBalance", "AeroCubeRotateZAxis"}
    return [(sid, family) for sid, family in export.list_scenes() if sid in wanted]


def good_only() -> list[tuple[str, SceneFamily]]:
    return [("Good", "classic_control")]


def refuse() -> list[tuple[str, SceneFamily]]:
    raise AssertionError("a fully cached registry must not start workers")


def load_mjb(path: Path) -> tuple[mujoco.MjModel, bytes]:
    mjb = gzip.decompress(path.read_bytes())
    return mujoco.MjModel.from_binary_path(_write(path.with_suffix(""), mjb)), mjb


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


async def wait_complete(registry: SceneRegistry, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not registry.snapshot().complete:
        assert time.monotonic() < deadline, registry.snapshot()
        await asyncio.sleep(0.05)


# --- registry ---------------------------------------------------------------------------------------


def test_real_export_then_cache(tmp_path: Path) -> None:
    async def build() -> tuple[SceneInfo, SceneInfo]:
        # No pack: this test is about the real export (a shipped pack may hold CartpoleBalance).
        registry = SceneRegistry(tmp_path, workers=2, lister=two_real_scenes, pack_dir=None)
        registry.start()
        try:
            return await registry.get("CartpoleBalance"), await registry.get("AeroCubeRotateZAxis")
        finally:
            await registry.close()

    cartpole, aero = asyncio.run(build())
    assert (cartpole.name, cartpole.robot, cartpole.family) == (
        "Cartpole Balance",
        "Cartpole",
        "classic_control",
    )
    # Cartpole: one slider motor, obs = cart position, cos/sin pole angle, two velocities.
    assert (cartpole.num_actuators, cartpole.action_size, cartpole.observation_size) == (1, 1, {"state": [5]})
    assert (cartpole.ctrl_dt, cartpole.sim_dt, cartpole.n_substeps) == (0.01, 0.01, 1)
    assert (aero.robot, aero.family, aero.keyframes) == ("Tetheria Aero Hand", "manipulation", ["home"])
    assert (cartpole.kind, aero.kind) == ("cartpole", "hand")
    assert "Balance the pole with the cart at the left" in cartpole.examples
    assert "Rotate the cube about the vertical axis" in aero.examples
    assert set(aero.observation_size) == {"state", "privileged_state"}
    assert aero.n_substeps == round(aero.ctrl_dt / aero.sim_dt) == 5

    registry_dir = tmp_path / "scenes"
    for info in (cartpole, aero):
        (scene_dir,) = registry_dir.iterdir()
        model, mjb = load_mjb(scene_dir / f"{info.id}.mjb.gz")
        assert (model.nu, len(mjb), hashlib.sha256(mjb).hexdigest()) == (
            info.num_actuators,
            info.model_bytes,
            info.model_sha256,
        )
        assert info.mujoco_version == mujoco.__version__

    async def reopen() -> None:
        # Everything is cached: the list is complete at once and no worker is asked for anything.
        registry = SceneRegistry(tmp_path, lister=refuse, exporter=refuse)  # type: ignore[arg-type]
        registry.start()
        try:
            snapshot = registry.snapshot()
            assert snapshot.complete and not snapshot.failed
            assert [s.id for s in snapshot.scenes] == ["CartpoleBalance", "AeroCubeRotateZAxis"]
            assert await registry.get("CartpoleBalance") == cartpole
        finally:
            await registry.close()

    asyncio.run(reopen())


def test_failures_are_recorded_and_do_not_stop_the_rest(tmp_path: Path) -> None:
    async def run() -> None:
        registry = SceneRegistry(tmp_path, workers=1, lister=fake_lister, exporter=fake_exporter)
        registry.start()
        try:
            await wait_complete(registry)
            snapshot = registry.snapshot()
            assert [s.id for s in snapshot.scenes] == ["Good", "Later"]  # Later ran after the crash
            errors = {f.id: f.error for f in snapshot.failed}
            assert errors["Bad"] == "ValueError: mesh 'leg.stl' not found"
            assert "worker process died" in errors["Crash"]
            assert snapshot.pending == []
            with pytest.raises(SceneFailedError, match=r"leg\.stl"):
                await registry.get("Bad")
            with pytest.raises(UnknownScene) as unknown:
                await registry.get("Nope")
            assert unknown.value.valid_ids == ["Good", "Bad", "Crash", "Later"]
        finally:
            await registry.close()

    asyncio.run(run())


def test_get_exports_a_pending_scene_at_once(tmp_path: Path) -> None:
    async def run() -> None:
        registry = SceneRegistry(tmp_path, workers=1, lister=fake_lister, exporter=fake_exporter)
        registry.start()
        try:
            assert (await registry.get("Later")).id == "Later"
            await wait_complete(registry)
        finally:
            await registry.close()

    asyncio.run(run())
    order = (next((tmp_path / "scenes").iterdir()) / "order.log").read_text().split()
    assert order == ["Good", "Later"]  # "Good" was already running; "Later" did not wait for the rest


def test_timeout_kills_the_worker_and_close_does_not_hang(tmp_path: Path) -> None:
    async def run() -> None:
        registry = SceneRegistry(
            tmp_path, workers=1, lister=slow_lister, exporter=fake_exporter, timeout_s=10
        )
        registry.start()
        with pytest.raises(SceneFailedError, match="timed out after 10 s"):
            await registry.get("Slow")
        await registry.close()

        registry = SceneRegistry(tmp_path / "b", workers=1, lister=slow_lister, exporter=fake_exporter)
        registry.start()
        waiter = asyncio.create_task(registry.get("Slow"))
        await asyncio.sleep(1)  # the sleeping export is now in flight
        started = time.monotonic()
        await registry.close()
        assert time.monotonic() - started < 5
        with pytest.raises(RuntimeError, match="closed"):
            await waiter

    asyncio.run(run())


def test_api_process_imports_no_jax() -> None:
    code = (
        "import sys, server.api.scenes, server.scenes.registry; "
        "print(sorted(m for m in ('jax', 'mujoco_playground', 'mujoco') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def broken_lister() -> list[tuple[str, SceneFamily]]:
    raise ImportError("No module named 'mujoco_playground'")


def test_catalog_failure_is_reported(tmp_path: Path) -> None:
    async def run() -> None:
        registry = SceneRegistry(tmp_path, workers=2, lister=broken_lister, exporter=fake_exporter)
        with pytest.raises(CatalogUnavailableError, match="not started"):
            await registry.get("Good")
        registry.start()
        try:
            with pytest.raises(CatalogUnavailableError, match="No module named 'mujoco_playground'"):
                await registry.get("Good")
            snapshot = registry.snapshot()
            assert snapshot.complete and snapshot.scenes == [] and snapshot.pending == []
            assert [f.id for f in snapshot.failed] == ["playground"]
        finally:
            await registry.close()

    asyncio.run(run())


def test_menagerie_folder_holds_every_robot(tmp_path: Path) -> None:
    folder = prepare_menagerie(tmp_path)
    assert {p.name for p in folder.iterdir()} == MENAGERIE_ROBOTS
    assert prepare_menagerie(tmp_path) == folder  # idempotent
    with ThreadPoolExecutor(8) as pool:  # racing builders all end up with one complete folder
        assert set(pool.map(prepare_menagerie, [tmp_path / "race"] * 8)) == {
            prepare_menagerie(tmp_path / "race")
        }
    assert len(list((tmp_path / "race" / "menagerie").iterdir())) == 1
    assert (folder / "unitree_go1" / "go1.xml").is_file()
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no temp dirs left behind


def test_names_from_catalog() -> None:
    assert split_camel("Go1JoystickFlatTerrain") == "Go1 Joystick Flat Terrain"
    assert split_camel("AeroCubeRotateZAxis") == "Aero Cube Rotate Z Axis"
    assert describe("CartpoleBalance") == ("Cartpole Balance", "Cartpole")
    assert describe("HumanoidRun")[1] == "Humanoid"
    assert describe("BerkeleyHumanoidJoystickFlatTerrain")[1] == "Berkeley Humanoid"  # longest prefix wins
    assert describe("PandaRobotiqPushCube")[1] == "Franka Emika Panda with Robotiq 2F-85"
    assert describe("SomeFutureEnv") == ("Some Future Env", "Some")


def test_kinds_and_example_tasks_from_catalog() -> None:
    assert robot_kind("Go1JoystickFlatTerrain") == "quadruped"
    assert robot_kind("BerkeleyHumanoidJoystickFlatTerrain") == "biped"  # not dm_control's "Humanoid"
    assert robot_kind("HumanoidRun") == "humanoid"
    assert robot_kind("PandaRobotiqPushCube") == "arm"  # the longest prefix, with its own kind
    assert robot_kind("SomeFutureEnv") == "generic"
    # The UI shows these (SceneInfo.examples): by the robot's kind, else by the scene family.
    assert "Balance the pole with the cart at the left" in example_tasks("CartpoleBalance", "classic_control")
    assert "Walk backwards slowly" in example_tasks("Go1JoystickFlatTerrain", "locomotion")
    assert "Turn in place to the left" in example_tasks("SpotGetup", "locomotion")
    assert "Walk forward at 0.5 m/s" in example_tasks("G1JoystickRoughTerrain", "locomotion")
    assert "Stand still" in example_tasks("HumanoidWalk", "classic_control")
    assert "Lift the cube" in example_tasks("PandaPickCube", "manipulation")
    assert {"Run forward fast", "Stand upright"} <= set(example_tasks("CheetahRun", "classic_control"))
    for family in ("classic_control", "locomotion", "manipulation"):
        assert len(example_tasks("Unknown", family)) >= 2


def test_every_kind_the_vocabulary_or_examples_name_is_a_catalogued_robots() -> None:
    """A kind renamed or misspelt in catalog.toml would silently lose its vocabulary entries and examples."""
    from server.rewards.families import FLOATING_BASE, KIND_ENTRIES, LEGGED

    catalog = load_catalog()
    kinds = {entry.kind for entry in catalog.robot}
    assert set(KIND_ENTRIES) | LEGGED | FLOATING_BASE | set(catalog.examples_by_kind) <= kinds


def test_cached_scene_gets_catalog_fields_afresh(tmp_path: Path) -> None:
    """A scene exported before the catalogue had kinds and examples (or with other names) still reads."""

    async def run() -> SceneInfo:
        first = SceneRegistry(tmp_path, workers=1, lister=good_only, exporter=fake_exporter)
        first.start()
        try:
            await wait_complete(first)
        finally:
            await first.close()
        cached = first.scenes_dir / "Good.json"
        raw = msgspec.json.decode(cached.read_bytes())
        del raw["kind"], raw["examples"]
        cached.write_bytes(msgspec.json.encode(raw | {"id": "Good", "name": "Old name"}))
        again = SceneRegistry(tmp_path, lister=refuse, exporter=refuse)  # type: ignore[arg-type]
        again.start()
        try:
            return await again.get("Good")
        finally:
            await again.close()

    info = asyncio.run(run())
    assert (info.name, info.robot, info.kind) == ("Good", "Good", "generic")
    assert info.examples == example_tasks("Good", "classic_control")


def test_etag_matching() -> None:
    assert etag_matches('"abc"', "abc")
    assert etag_matches('W/"x", "abc"', "abc")
    assert etag_matches("*", "abc")
    assert not etag_matches('"abd"', "abc")
    assert not etag_matches(None, "abc")


# --- HTTP -------------------------------------------------------------------------------------------


@pytest.fixture
def scenes_client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    """A minimal app with just the scenes controller, the app's error handlers and a registry over fake
    scenes, injected as the app injects its own."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.scenes = SceneRegistry(tmp_path, workers=1, lister=fake_lister, exporter=fake_exporter)
        app.state.scenes.start()
        try:
            yield
        finally:
            await app.state.scenes.close()

    def scenes(state: State) -> SceneRegistry:
        registry: SceneRegistry = state.scenes
        return registry

    app = Litestar(
        [ScenesController],
        lifespan=[lifespan],
        dependencies={"scenes": Provide(scenes, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
    )
    with TestClient(app) as client:
        yield client


def test_http_scene_list_and_info(scenes_client: TestClient[Litestar]) -> None:
    good = scenes_client.get("/api/playground/scenes/Good")
    assert good.status_code == 200
    assert good.json()["num_actuators"] == 1
    assert scenes_client.get("/api/playground/scenes/Later").status_code == 200
    deadline = time.monotonic() + 60
    while not (listing := scenes_client.get("/api/playground/scenes").json())["complete"]:
        assert time.monotonic() < deadline, listing
        time.sleep(0.05)
    assert [s["id"] for s in listing["scenes"]] == ["Good", "Later"]
    assert {f["id"] for f in listing["failed"]} == {"Bad", "Crash"}


def test_http_unknown_and_failed(scenes_client: TestClient[Litestar]) -> None:
    unknown = scenes_client.get("/api/playground/scenes/Nope")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "unknown scene 'Nope'"
    body = msgspec.json.decode(unknown.content, type=UnknownSceneBody)  # the documented 404 shape
    assert body.extra.valid_ids == ["Good", "Bad", "Crash", "Later"]
    assert scenes_client.get("/api/playground/scenes/Nope/model.mjb").status_code == 404

    failed = scenes_client.get("/api/playground/scenes/Bad")
    assert failed.status_code == 422
    error = msgspec.json.decode(failed.content, type=SceneErrorBody)
    assert error.detail == "scene 'Bad' failed to load: ValueError: mesh 'leg.stl' not found"
    assert error.extra.error == "ValueError: mesh 'leg.stl' not found"


def test_http_model_download_and_etag(scenes_client: TestClient[Litestar], tmp_path: Path) -> None:
    info = scenes_client.get("/api/playground/scenes/Good").json()
    model = scenes_client.get("/api/playground/scenes/Good/model.mjb")
    assert model.status_code == 200
    assert model.headers["content-encoding"] == "gzip"
    assert model.headers["content-type"] == "application/octet-stream"
    assert model.headers["etag"] == f'"{info["model_sha256"]}"'
    assert model.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert model.headers["x-mujoco-version"] == mujoco.__version__
    # httpx undoes the gzip content-encoding, as a browser does: what remains is the MJB itself.
    assert hashlib.sha256(model.content).hexdigest() == info["model_sha256"]
    assert mujoco.MjModel.from_binary_path(_write(tmp_path / "good.mjb", model.content)).nu == 1

    cached = scenes_client.get(
        "/api/playground/scenes/Good/model.mjb", headers={"If-None-Match": f'"{info["model_sha256"]}"'}
    )
    assert cached.status_code == 304
    assert cached.content == b""
    stale = scenes_client.get("/api/playground/scenes/Good/model.mjb", headers={"If-None-Match": '"old"'})
    assert stale.status_code == 200


def test_lane_worker_survives_a_signal_sent_to_the_process_group() -> None:
    """Ctrl+C in a terminal reaches every process in the group; the parent, not the signal, stops workers."""
    import os
    import signal

    from server.scenes.lanes import Lane

    async def run() -> tuple[int, int]:
        lane = Lane("signal-test")
        try:
            first = await lane.call(60, os.getpid)
            os.kill(first, signal.SIGINT)
            os.kill(first, signal.SIGTERM)
            await asyncio.sleep(0.5)
            return first, await lane.call(60, os.getpid)
        finally:
            await lane.close()

    first, second = asyncio.run(run())
    assert first == second
