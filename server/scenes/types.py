"""Typed records that describe a scene (one MuJoCo Playground environment) to the API and the UI."""

from __future__ import annotations

from typing import Literal

import msgspec

from server.commands.types import CommandSpec

SceneFamily = Literal["classic_control", "locomotion", "manipulation"]


class SceneInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the UI needs to list a scene and load its model.

    name, robot, kind and examples come from the hand-written catalogue (scenes/catalog.toml), the
    rest from the loaded environment. Sizes are counts of float32 entries; times are seconds of
    simulated time.
    """

    id: str  # Playground registry name, e.g. "CartpoleBalance"
    name: str  # display name, e.g. "Cartpole Balance"
    family: SceneFamily
    robot: str  # e.g. "Cartpole", "Unitree Go1"
    kind: str  # the robot's body plan, e.g. "cartpole", "quadruped", "arm" ("generic" if not catalogued)
    examples: list[str]  # example tasks to offer, from the catalogue (by kind, else by family)
    num_actuators: int
    action_size: int
    # Playground observations are either one vector or a dict of them ("state", "privileged_state").
    observation_size: dict[str, list[int]]
    ctrl_dt: float  # seconds between policy actions
    sim_dt: float  # physics timestep
    n_substeps: int  # physics steps per control step
    keyframes: list[str]  # keyframe names in model order ("" for an unnamed one)
    model_bytes: int  # size of the uncompressed MJB file
    model_sha256: str  # hash of the MJB bytes; doubles as the HTTP ETag
    mujoco_version: str  # MJB files load only in the identical MuJoCo version
    command: CommandSpec | None = None  # a joystick scene's command (the command tier); None: takes none


class SceneFailure(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    error: str


class PendingScene(msgspec.Struct, frozen=True, kw_only=True):
    """A scene still being prepared, with what the catalogue knows of it (no model facts yet), so the
    picker can list it by name at once."""

    id: str
    name: str
    family: SceneFamily
    robot: str
    kind: str


class SceneList(msgspec.Struct, frozen=True, kw_only=True):
    """Scenes are verified in a worker process on first launch; until that finishes some are pending."""

    scenes: list[SceneInfo]
    pending: list[str]  # ids, in catalogue order
    pending_scenes: list[PendingScene]  # the same scenes with their catalogue names, for the picker
    failed: list[SceneFailure]
    complete: bool
