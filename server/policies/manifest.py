"""What a saved policy is: `manifest.json` beside `params.msgpack` (flax msgpack, never pickle).

The manifest says enough to rebuild the network and its env, and the params' sha256; it is written after
the params, so a folder with a manifest is complete. Every problem with a policy's files or archive is an
`InvalidPolicy` whose message names it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from server.checks.types import CheckResult, TrainingOutcome
from server.files import sha256_file
from server.training.types import TrainingProgress

MANIFEST_FILE = "manifest.json"
PARAMS_FILE = "params.msgpack"
POLICY_FILES = (PARAMS_FILE, MANIFEST_FILE)  # in the order they are written
# A few seconds of a deterministic rollout of the policy, rendered when it is saved (server/policies/clip.py).
# Optional: a policy without one plays all the same.
CLIP_FILE = "clip.webp"
OBS_IS_DICT = "obs_is_dict"  # training_config key: the env's observation is a dict, not one vector

# "trained" here, from a program validated on this computer; "imported" from a `.robocoach` file, whose
# program the user must read (and confirm) before it can play: playing runs that program.
PolicySource = Literal["trained", "imported"]


# The trainer's scalar settings (preset, num_timesteps, PPO scalars). Python keeps ints as ints, so what is
# stored and read back is unchanged; the schema says `number | boolean | string`, because the
# `oneOf [number, integer]` that `float | int` generates matches an integer twice and so rejects it.
# ("extra" is how Litestar takes a schema override from msgspec.Meta.)
TrainingConfig = Annotated[
    dict[str, float | int | bool | str],
    msgspec.Meta(
        extra_json_schema={"extra": {"additional_properties": {"type": ["number", "boolean", "string"]}}}
    ),
]


class InvalidPolicy(ValueError):  # noqa: N818 (reads as the condition)
    """A policy folder or archive that is missing, damaged, tampered with or does not match its manifest."""


class NetworkConfig(msgspec.Struct, frozen=True, kw_only=True):
    policy_hidden_layer_sizes: list[int]
    value_hidden_layer_sizes: list[int]
    normalize_observations: bool
    policy_obs_key: str  # "state" for plain vectors
    value_obs_key: str


class BaseProvenance(msgspec.Struct, frozen=True, kw_only=True):
    """How a shipped base policy was built (scripts/build_bases.py), so anyone can rebuild and compare it."""

    command: str  # the command line that built it
    preset: str
    training_config: TrainingConfig
    versions: dict[str, str]
    check: CheckResult | None  # the success check's verdict on the kept checkpoint when it was built
    training_s: float  # wall-clock seconds of the training job
    machine: str  # e.g. "Linux x86_64, 2 CPU cores, jax cpu"
    built_at: datetime


class PolicyManifest(msgspec.Struct, frozen=True, kw_only=True):
    """Saved beside the params (flax msgpack, no pickle); enough to rebuild the network and its env."""

    policy_id: str
    name: str
    scene_id: str
    task_description: str
    program: str
    network: NetworkConfig
    observation_size: dict[str, list[int]]
    action_size: int
    ctrl_dt: float
    training_config: TrainingConfig
    metrics_history: list[TrainingProgress]
    final_eval_reward: float | None
    created_at: datetime
    versions: dict[str, str]  # jax, jaxlib, brax, playground, mujoco, mujoco-mjx, flax
    job_id: str | None
    base_policy_id: str | None
    params_sha256: str
    source: PolicySource = "trained"
    program_reviewed_at: datetime | None = None  # when the user confirmed reading an imported program
    check: str | None = None  # the success check program the job judged its checkpoints with
    outcome: TrainingOutcome | None = None  # which checkpoint was kept, at which step, and its verdict
    # A base for the command and fine-tune tiers (the user marked it, or a "Prepare a base" job made it).
    is_base: bool = False
    provenance: BaseProvenance | None = None  # set on bases shipped with the app (scenes/bases/)

    @property
    def needs_review(self) -> bool:
        """An imported policy plays only after the user has read its reward program."""
        return self.source == "imported" and self.program_reviewed_at is None


def decode_manifest(data: bytes) -> PolicyManifest:
    try:
        return msgspec.json.decode(data, type=PolicyManifest)
    except msgspec.DecodeError as exc:
        raise InvalidPolicy(f"{MANIFEST_FILE} is corrupted (not a policy manifest): {exc}") from exc


def encode_manifest(manifest: PolicyManifest) -> bytes:
    return msgspec.json.encode(manifest)


def read_manifest(folder: Path) -> PolicyManifest:
    """The folder's manifest, decoded (its params are not read)."""
    try:
        data = (folder / MANIFEST_FILE).read_bytes()
    except FileNotFoundError as exc:
        raise InvalidPolicy(f"{MANIFEST_FILE} is missing in {folder}") from exc
    return decode_manifest(data)


def check_params_hash(digest: str, manifest: PolicyManifest) -> None:
    if digest != manifest.params_sha256:
        raise InvalidPolicy(f"{PARAMS_FILE} does not match the manifest's params_sha256 (damaged or edited)")


def read_checked(folder: Path) -> PolicyManifest:
    """The folder's manifest, with its params file present and matching the manifest's hash."""
    manifest = read_manifest(folder)
    params = folder / PARAMS_FILE
    if not params.is_file():
        raise InvalidPolicy(f"{PARAMS_FILE} is missing in {folder}")
    check_params_hash(sha256_file(params), manifest)
    return manifest
