"""Display names and robot names for scene ids, from the hand-written `scenes/catalog.toml`.

Pure and cheap: used by workers when they export a scene and by the API process when it reads a cached
scene, so editing the metadata takes effect without re-exporting models.
"""

from __future__ import annotations

import functools
import re
import tomllib
from pathlib import Path

import msgspec

CATALOG_PATH = Path(__file__).resolve().parents[2] / "scenes" / "catalog.toml"

# "Go1Joystick" -> "Go1 Joystick"; "ZAxis" -> "Z Axis".
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class RobotEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    prefix: str  # scene ids starting with this belong to the robot (longest prefix wins)
    name: str  # display name, e.g. "Unitree Go1"
    menagerie: str | None = None  # MuJoCo Menagerie folder, for robots with mesh assets


class Catalog(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    robot: list[RobotEntry] = []
    names: dict[str, str] = {}


@functools.cache
def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    # A missing file (e.g. a packaged build that forgot it) degrades to names derived from ids.
    if not path.is_file():
        return Catalog()
    return msgspec.convert(tomllib.loads(path.read_text(encoding="utf-8")), Catalog)


def split_camel(scene_id: str) -> str:
    """ "Go1JoystickFlatTerrain" -> "Go1 Joystick Flat Terrain"."""
    return _CAMEL_BOUNDARY.sub(" ", scene_id)


def robot_entry(scene_id: str, catalog: Catalog | None = None) -> RobotEntry | None:
    catalog = catalog or load_catalog()
    matches = [entry for entry in catalog.robot if scene_id.startswith(entry.prefix)]
    return max(matches, key=lambda entry: len(entry.prefix), default=None)


def describe(scene_id: str, catalog: Catalog | None = None) -> tuple[str, str]:
    """(display name, robot name) for a scene id; unknown ids fall back to their first word."""
    catalog = catalog or load_catalog()
    name = catalog.names.get(scene_id) or split_camel(scene_id)
    entry = robot_entry(scene_id, catalog)
    return name, entry.name if entry else split_camel(scene_id).split(" ")[0]
