"""SceneInfo.command: scene export records the command a joystick env's policy follows (real envs)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from server.scenes.export import export_scene
from server.scenes.loader import find_menagerie
from server.scenes.types import SceneInfo


@pytest.fixture(scope="module")
def menagerie(tmp_path_factory: pytest.TempPathFactory) -> Path:
    found = find_menagerie(tmp_path_factory.mktemp("cache"))
    assert found is not None, "the Menagerie asset wheels are part of the environment"
    return found


def test_a_joystick_scene_exports_its_command(tmp_path: Path, menagerie: Path) -> None:
    info = export_scene("Go1JoystickFlatTerrain", tmp_path, menagerie)
    assert info.command is not None
    assert info.command.keys == ["forward", "sideways", "turn"]
    assert info.command.units == ["m/s", "m/s", "rad/s"]
    # Playground's Go1 joystick config: command_config.a = [1.5, 0.8, 1.2], sampled in [-a, a].
    assert info.command.high == pytest.approx([1.5, 0.8, 1.2])
    assert info.command.low == pytest.approx([-1.5, -0.8, -1.2])
    written = msgspec.json.decode((tmp_path / "Go1JoystickFlatTerrain.json").read_bytes(), type=SceneInfo)
    assert written.command == info.command


def test_a_scene_without_a_command_exports_none(tmp_path: Path, menagerie: Path) -> None:
    assert export_scene("CartpoleBalance", tmp_path, menagerie).command is None
