"""Messages between the API process (checker.py) and the trace worker: length-prefixed msgpack frames.

Plain data only, no JAX: both sides import this module.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import msgspec

from server import framing
from server.sandbox.escape import Attempt

MAX_FRAME = 16 * 2**20  # a vocabulary of a big model is ~100 KB; anything near this is a bug


class Validate(msgspec.Struct, tag="validate", frozen=True):
    scene_id: str
    source: str


class ValidateCheck(msgspec.Struct, tag="validate_check", frozen=True):
    """A success check (docs/CHECKS.md), judged on two real rollouts of the scene."""

    scene_id: str
    source: str


class PolicyFiles(msgspec.Struct, frozen=True):
    """A saved policy's manifest and params files, as bytes: the worker reads no policy folder."""

    manifest: bytes
    params: bytes


class JudgeBase(msgspec.Struct, tag="judge_base", frozen=True):
    """A validated success check applied to deterministic rollouts of a base policy, so the planner knows
    whether the base already does the task, or none of it. Replies with a CheckResult."""

    scene_id: str
    source: str
    base: PolicyFiles


class GetVocabulary(msgspec.Struct, tag="vocabulary", frozen=True):
    scene_id: str


class Evaluate(msgspec.Struct, tag="evaluate", frozen=True):
    """Term values on the scene's reset state, once per override set (entry name -> value)."""

    scene_id: str
    source: str
    overrides: list[dict[str, Any]]


class Prepare(msgspec.Struct, tag="prepare", frozen=True):
    """Load the scene and build what every check of it needs (the reset and stepped states, the sample
    rollouts, and the rollouts of `base`, the base policy a draft's check will be judged on), so the next
    Validate/ValidateCheck/JudgeBase only runs the new program. Replies with the seconds each phase took
    (0 for what was already there)."""

    scene_id: str
    base: PolicyFiles | None = None


class EnvKeys(msgspec.Struct, tag="env_keys", frozen=True):
    """Test hook: the names of the worker's environment variables."""


class Sleep(msgspec.Struct, tag="sleep", frozen=True):
    """Test hook: a runaway task, to exercise the parent's timeout."""

    seconds: float


class Probe(msgspec.Struct, tag="probe", frozen=True):
    """Test hook: try to get out of the sandbox from inside the worker (server.sandbox.probe)."""

    attempts: list[Attempt]


Request = Validate | ValidateCheck | JudgeBase | GetVocabulary | Evaluate | Prepare | EnvKeys | Sleep | Probe


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    value: msgspec.Raw = msgspec.Raw(b"\xc0")  # msgpack nil
    error: str = ""
    kind: str = ""  # "unknown_scene", "rejected", "error"


def pack(message: Any) -> bytes:
    return framing.frame(msgspec.msgpack.encode(message))


def read_frame(stream: BinaryIO) -> bytes | None:
    return framing.read_frame(stream, MAX_FRAME)


def header_size(header: bytes) -> int:
    return framing.body_size(header, MAX_FRAME)


HEADER_BYTES = framing.HEADER_BYTES
