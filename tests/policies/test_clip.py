"""Clips of policies: a real rollout of a (random, untrained) Cartpole policy in the trainer's env, drawn by
MuJoCo in EGL (Mesa's software renderer here) into an animated WebP; the API serves it behind the token, and
the library says which policies have one. (That a real training job leaves one is asserted in
tests/training/test_runner.py's worker test.)"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient
from PIL import Image
from PIL.WebPImagePlugin import WebPImageFile

from server.policies.clip import CLIP_HEIGHT, CLIP_SECONDS, CLIP_WIDTH, Clip, frame_stride, save_clip
from server.policies.manifest import CLIP_FILE
from server.settings import Settings
from tests.conftest import make_client
from tests.inference.policies import save_untrained_policy
from tests.policies.helpers import add_policy
from tests.policies.test_bases_api import SHIPPED_ID, ship_base
from tests.policies.test_library_api import library_of, use_stubs

MAX_CLIP_BYTES = 400_000


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Clip]:
    """An untrained Cartpole policy folder, the scene as training loads it, and the clip saved into it."""
    from server.training.runner import load_scene

    cache = tmp_path_factory.mktemp("scene-cache")
    folder = tmp_path_factory.mktemp("clip") / "policy"
    save_untrained_policy(folder, "CartpoleBalance", cache)
    scene = load_scene("CartpoleBalance", cache)
    clip = save_clip(folder, scene)
    assert clip is not None, "the clip could not be made (see the log)"
    return folder, scene, clip


def open_webp(data: bytes) -> WebPImageFile:
    image = Image.open(io.BytesIO(data))
    assert isinstance(image, WebPImageFile), image.format
    return image


def frames_of(data: bytes) -> list[np.ndarray]:
    image = open_webp(data)
    frames = []
    for i in range(image.n_frames):
        image.seek(i)
        frames.append(np.asarray(image.convert("RGB"), dtype=np.int16))
    return frames


def test_a_clip_is_a_small_animated_webp_of_the_rollout(cartpole: tuple[Path, Any, Clip]) -> None:
    folder, scene, clip = cartpole
    data = (folder / CLIP_FILE).read_bytes()
    assert data == clip.data and len(data) < MAX_CLIP_BYTES
    image = open_webp(data)
    assert image.is_animated and image.size == (CLIP_WIDTH, CLIP_HEIGHT)
    # Cartpole never ends its episode early: the whole clip, the initial state and one frame per stride,
    # in real time (the encoder merges identical frames, as when the cart rests at the end of its rail).
    stride = frame_stride(scene.env.dt)
    assert clip.frames == math.ceil(CLIP_SECONDS / scene.env.dt) // stride + 1
    assert 1 < image.n_frames <= clip.frames and image.info["loop"] == 0
    durations = []
    for i in range(image.n_frames):
        image.seek(i)
        image.load()
        durations.append(image.info["duration"])
    assert sum(durations) == clip.frames * round(1000 * stride * scene.env.dt)
    frames = frames_of(data)
    assert frames[0].std() > 10  # a picture, not a blank buffer
    # The untrained policy pushes the cart: later frames differ from the first well beyond encoding noise.
    changed = np.abs(frames[-1] - frames[0]).max(axis=2) > 40
    assert changed.mean() > 0.005, changed.mean()
    print(
        f"\nclip: {clip.frames} frames, {len(data)} bytes; rollout {clip.rollout_s:.1f} s, "
        f"render + encode {clip.render_s:.2f} s ({1000 * clip.render_s / clip.frames:.0f} ms a frame)"
    )


def test_the_clip_is_deterministic(cartpole: tuple[Path, Any, Clip], tmp_path: Path) -> None:
    folder, scene, clip = cartpole
    again = tmp_path / "again"
    again.mkdir()
    for name in ("manifest.json", "params.msgpack"):
        (again / name).write_bytes((folder / name).read_bytes())
    second = save_clip(again, scene)
    assert second is not None
    assert [f.tolist() for f in frames_of(second.data)] == [f.tolist() for f in frames_of(clip.data)]


def test_a_clip_that_cannot_be_made_leaves_none_and_raises_nothing(
    cartpole: tuple[Path, Any, Clip], tmp_path: Path
) -> None:
    folder = tmp_path / "policy"
    folder.mkdir()
    for name in ("manifest.json", "params.msgpack"):
        (folder / name).write_bytes((cartpole[0] / name).read_bytes())
    (folder / CLIP_FILE).write_bytes(b"an older policy's clip")

    class Broken:
        family = "classic_control"
        env = None  # the rollout fails

    assert save_clip(folder, Broken()) is None
    assert not (folder / CLIP_FILE).exists()


@pytest.fixture
def api(app_settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    ship_base(app_settings.bases_dir)
    client = make_client(app_settings)
    use_stubs(client.app, rewards=True)
    with client:
        yield client


def test_the_api_serves_a_policys_clip(
    api: TestClient,  # type: ignore[type-arg]
    app_settings: Settings,
    cartpole: tuple[Path, Any, Clip],
) -> None:
    library = library_of(api)
    with_clip = add_policy(library).policy_id
    without = add_policy(library).policy_id
    data = cartpole[2].data
    (library.folder(with_clip) / CLIP_FILE).write_bytes(data)

    response = api.get(f"/api/models/{with_clip}/clip")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/webp" and response.content == data
    listed = {p["id"]: p["clip"] for p in api.get("/api/models").json()}
    assert listed == {with_clip: True, without: False, SHIPPED_ID: False}

    missing = api.get(f"/api/models/{without}/clip")
    assert missing.status_code == 404 and missing.json()["extra"] == {"policy_id": without}
    assert "no clip" in missing.json()["detail"]
    assert api.get(f"/api/models/{'0' * 32}/clip").status_code == 404
    assert api.get("/api/models/not-an-id/clip").status_code == 404
    # A shipped base's clip lies beside its files in bases_dir.
    assert api.get(f"/api/models/{SHIPPED_ID}/clip").status_code == 404
    (app_settings.bases_dir / "CartpoleBalance" / CLIP_FILE).write_bytes(data)
    assert api.get(f"/api/models/{SHIPPED_ID}/clip").content == data
    base = api.post(f"/api/models/{SHIPPED_ID}/base", json={"base": True}).json()
    assert base["clip"] is True
    assert {p["id"]: p["clip"] for p in api.get("/api/models").json()}[SHIPPED_ID] is True

    with make_client(app_settings, authorised=False) as anonymous:
        assert anonymous.get(f"/api/models/{with_clip}/clip").status_code == 401
