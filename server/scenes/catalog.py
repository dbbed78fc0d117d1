"""Robot and scene metadata from the hand-written `scenes/catalog.toml`: display names, robot names,
robot kinds, the built-in drafter's hints and the UI's example tasks.

The one home of "which robot is this scene": the reward vocabulary (rewards/families.py), the built-in
drafter (llm/builtin.py) and the UI (through `SceneInfo.kind` and `.examples`) all read it here.
Pure and cheap: used by workers when they export a scene and by the API process when it reads a cached
scene, so editing the metadata takes effect without re-exporting models.
"""

from __future__ import annotations

import functools
import re
import tomllib
from pathlib import Path

import msgspec

from server.scenes.types import SceneFamily

CATALOG_PATH = Path(__file__).resolve().parents[2] / "scenes" / "catalog.toml"
GENERIC_KIND = "generic"  # the kind of a scene no robot entry matches

# "Go1Joystick" -> "Go1 Joystick"; "ZAxis" -> "Z Axis".
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class RobotEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    prefix: str  # scene ids starting with this belong to the robot (longest prefix wins)
    name: str  # display name, e.g. "Unitree Go1"
    kind: str  # body plan, e.g. "quadruped": picks vocabulary entries, example tasks, drafter templates
    menagerie: str | None = None  # MuJoCo Menagerie folder, for robots with mesh assets
    speed: float | None = None  # m/s a drafted "move" reward aims for when the task names none
    upright: bool = True  # False: the built-in drafter adds no "torso upright" term


class Catalog(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    robot: list[RobotEntry] = []
    names: dict[str, str] = {}
    examples_by_kind: dict[str, list[str]] = {}
    examples_by_family: dict[SceneFamily, list[str]] = {}


class SceneMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """The catalogue's fields of a `SceneInfo`."""

    name: str
    robot: str
    kind: str
    examples: list[str]


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


def robot_kind(scene_id: str, catalog: Catalog | None = None) -> str:
    """The robot's kind, e.g. "quadruped"; "generic" for a scene the catalogue does not know."""
    entry = robot_entry(scene_id, catalog)
    return entry.kind if entry else GENERIC_KIND


def describe(scene_id: str, catalog: Catalog | None = None) -> tuple[str, str]:
    """(display name, robot name) for a scene id; unknown ids fall back to their first word."""
    catalog = catalog or load_catalog()
    name = catalog.names.get(scene_id) or split_camel(scene_id)
    entry = robot_entry(scene_id, catalog)
    return name, entry.name if entry else split_camel(scene_id).split(" ")[0]


def example_tasks(scene_id: str, family: SceneFamily, catalog: Catalog | None = None) -> list[str]:
    """Short tasks a person can click: the robot kind's, else the scene family's."""
    catalog = catalog or load_catalog()
    by_kind = catalog.examples_by_kind.get(robot_kind(scene_id, catalog))
    return list(by_kind or catalog.examples_by_family.get(family, []))


def scene_metadata(scene_id: str, family: SceneFamily, catalog: Catalog | None = None) -> SceneMetadata:
    catalog = catalog or load_catalog()
    name, robot = describe(scene_id, catalog)
    return SceneMetadata(
        name=name,
        robot=robot,
        kind=robot_kind(scene_id, catalog),
        examples=example_tasks(scene_id, family, catalog),
    )
