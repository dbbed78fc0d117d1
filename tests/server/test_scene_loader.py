"""The one scene loader (server/scenes/loader.py) with real Playground envs: the family, the physics
implementation, and its error type; and that nothing else in server/ loads an env by itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.scenes.loader import SceneLoadError, UnknownSceneError, load_env, scene_families
from server.scenes.menagerie import prepare_menagerie

SERVER = Path(__file__).resolve().parents[2] / "server"


def test_every_caller_loads_through_the_loader() -> None:
    """Export, trace check, training and playback once each called `registry.load` their own way."""
    callers = [
        path.relative_to(SERVER).as_posix()
        for path in SERVER.rglob("*.py")
        if re.search(r"(?<![`\w.])registry\.(load|get_default_config)\(", path.read_text(encoding="utf-8"))
    ]
    assert callers == ["scenes/loader.py"]


def test_families_in_export_order() -> None:
    families = scene_families()
    assert families["CartpoleBalance"] == "classic_control"
    assert families["Go1JoystickFlatTerrain"] == "locomotion"
    assert families["PandaPickCube"] == "manipulation"
    order = list(dict.fromkeys(families.values()))
    assert order == ["classic_control", "locomotion", "manipulation"]


def test_loads_a_scene_with_the_purposes_implementation(tmp_path: Path) -> None:
    scene = load_env("CartpoleBalance", purpose="check", menagerie_dir=None)
    assert (scene.family, scene.impl, scene.episode_length) == ("classic_control", "jax", 1000)
    assert scene.env.mjx_model.impl.value == "jax"
    # AeroCubeRotateZAxis has no "impl" setting at all: it loads as it is.
    aero = load_env("AeroCubeRotateZAxis", purpose="train", menagerie_dir=prepare_menagerie(tmp_path))
    assert (aero.family, aero.impl) == ("manipulation", None)


def test_one_error_type() -> None:
    with pytest.raises(UnknownSceneError, match="unknown scene 'NoSuchScene'") as unknown:
        load_env("NoSuchScene", purpose="train", menagerie_dir=None)
    assert isinstance(unknown.value, SceneLoadError) and isinstance(unknown.value, LookupError)
    # A robot scene without the Menagerie assets fails fast (Playground would try a git clone).
    with pytest.raises(SceneLoadError, match=r"MenagerieError: .*asset wheels") as missing:
        load_env("Go1JoystickFlatTerrain", purpose="export", menagerie_dir=None)
    assert missing.value.scene_id == "Go1JoystickFlatTerrain"
    with pytest.raises(SceneLoadError, match=r"MenagerieError: Menagerie folder .* does not exist"):
        load_env("Go1JoystickFlatTerrain", purpose="export", menagerie_dir=Path("/nonexistent"))
