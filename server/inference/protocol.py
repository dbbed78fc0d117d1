"""The live-playback wire protocol: `WS /api/models/{id}/inference`. Spec: docs/INFERENCE_PROTOCOL.md.

Every WebSocket message is one binary frame holding a msgpack map whose `type` names the message.
Float arrays travel as raw little-endian float64 bytes (what MuJoCo's `Float64Array` views hold, so
the browser copies them without converting). No JAX here: the API process and the worker both use it.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np

# Part of Hello and SetSchedule (and so of the generated wire types).
from server.commands.types import CommandSchedule, CommandSpec

PROTOCOL_VERSION = 1
FLOAT = np.dtype("<f8")

# Close codes (4000-4999 are the application's): the reason string says more. Each one's comment is
# copied into ui/src/api/wire.gen.ts (make api).
CLOSE_UNKNOWN_MODEL = 4404  # no such policy, or it was deleted while playing
CLOSE_UNPLAYABLE = 4422  # the policy exists but cannot run here (damaged files, scene missing)
CLOSE_NEEDS_REVIEW = 4428  # an imported policy whose reward program the user has not confirmed reading
CLOSE_WORKER_FAILED = 1011  # the inference worker died; reconnecting starts a new one
MAX_FRAME_BYTES = 4 * 2**20  # far above the largest robot's state (G1: nq 36, nv 35)


class PhysicsState(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A MuJoCo state as the browser holds it: arrays as float64 little-endian bytes."""

    qpos: bytes
    qvel: bytes
    act: bytes = b""
    time: float
    # The constraint solver's starting point (mjData.qacc_warmstart). Required in Step.before: solvers
    # stop after few iterations, so the accelerations (and accelerometer readings) depend on it.
    qacc_warmstart: bytes = b""


# Browser -> server ------------------------------------------------------------------------------


class Reset(msgspec.Struct, frozen=True, kw_only=True, tag="reset", tag_field="type"):
    """Start an episode. Without `state`: the env's own reset (the reply says where to put the robot).
    With `state`: start the episode's memory afresh but keep the robot where the browser has it (used
    after a reconnect, so the robot does not jump)."""

    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0
    state: PhysicsState | None = None


class Step(msgspec.Struct, frozen=True, kw_only=True, tag="step", tag_field="type"):
    """One control interval simulated by the browser with the last `ctrl` it received: `before` is the
    state before the interval's last physics substep, `after` the state after it. The server needs
    both to rebuild exactly what MuJoCo's `mj_step` leaves in `mjData` (see the spec)."""

    seq: Annotated[int, msgspec.Meta(ge=0)]
    before: PhysicsState
    after: PhysicsState


class SetCommand(msgspec.Struct, frozen=True, kw_only=True, tag="command", tag_field="type"):
    """The command a joystick policy follows (e.g. forward, sideways, turning velocity)."""

    values: list[float]


class SetSchedule(msgspec.Struct, frozen=True, kw_only=True, tag="schedule", tag_field="type"):
    """Drive the command from a schedule (docs/COMMANDS.md) instead of SetCommand: at each control step the
    server sets the command for the time since the episode began, so each Reset starts it again. `null`
    clears it (the last SetCommand, or zeros, then apply). The reply is a Status naming what will play and
    any values clipped into the command's range, or a `bad_command` Error (the session stays open)."""

    schedule: CommandSchedule | None


ClientMessage = Reset | Step | SetCommand | SetSchedule


# Server -> browser ------------------------------------------------------------------------------


class Status(msgspec.Struct, frozen=True, kw_only=True, tag="status", tag_field="type"):
    phase: Literal["compiling", "ready"]
    message: str = ""


class Hello(msgspec.Struct, frozen=True, kw_only=True, tag="hello", tag_field="type"):
    """Sent once the policy is compiled: everything the browser needs to drive the episode."""

    version: int
    policy_id: str
    scene_id: str
    ctrl_dt: float  # one control interval, seconds
    timestep: float  # one physics substep (the model's opt.timestep)
    substeps: int  # physics substeps per control interval: ctrl_dt / timestep
    nq: int
    nv: int
    na: int
    nu: int
    nmocap: int
    send: list[str]  # the state fields each Step must carry, in PhysicsState
    reward_terms: list[str]  # the reward program's terms, in the order of Action.terms
    weights: list[float]
    episode_length: int  # control steps per episode, as in training
    command: CommandSpec | None  # None: the policy takes no command


class Episode(msgspec.Struct, frozen=True, kw_only=True, tag="episode", tag_field="type"):
    """The reply to Reset: set this state (then mj_forward) and apply `ctrl` for the first interval."""

    qpos: bytes
    qvel: bytes
    act: bytes
    time: float
    mocap_pos: bytes
    mocap_quat: bytes
    ctrl: bytes
    command: list[float] | None


class Action(msgspec.Struct, frozen=True, kw_only=True, tag="action", tag_field="type"):
    """The reply to Step `seq`: apply `ctrl` for the next interval. Rewards are for the step just taken."""

    seq: int
    ctrl: bytes
    reward: float  # the program's weighted total
    terms: list[float]  # each term's unweighted value, in Hello.reward_terms order
    task_reward: float  # the scene's own reward, for comparison
    episode_return: float  # sum of `reward` since the episode began
    step: int  # control steps since the episode began
    done: bool  # the env ended the episode (fell, or episode_length reached): send Reset to go on
    command: list[float] | None


class PolicyUpdate(msgspec.Struct, frozen=True, kw_only=True, tag="policy", tag_field="type"):
    """Live preview of a training job (`WS /api/jobs/{job_id}/preview`): which params play.
    Sent right after Hello, each time the worker swaps in a newer evaluation's params (the episode goes on
    and nothing recompiles: the network's shape is the job's), when a newer checkpoint could not be used
    (`note` says why; the previous params keep playing), and once when the job ends (`ended`)."""

    job_id: str
    step: int  # environment steps the playing params were trained for; 0: untrained (or the fine-tune's base)
    total_steps: int
    evaluation: int  # the evaluation these params come from: 0 before training's first one
    eval_reward: float | None  # that evaluation's mean return under the job's reward program
    check_passed: bool | None  # its success-check verdict; None: the job has no check, or not judged yet
    check_score: float | None  # share of the check's requirements that held, 0..1
    ended: bool = False  # the job has ended (succeeded, failed or cancelled): no newer params will come
    note: str = ""  # for people: a skipped checkpoint, or how the job ended


class Error(msgspec.Struct, frozen=True, kw_only=True, tag="error", tag_field="type"):
    """A frame the server could not use. The session stays open unless a close frame follows."""

    code: Literal["bad_frame", "bad_state", "no_episode", "bad_command", "internal"]
    message: str
    seq: int | None = None


ServerMessage = Status | Hello | Episode | Action | PolicyUpdate | Error

_client_decoder = msgspec.msgpack.Decoder(ClientMessage)
_server_decoder = msgspec.msgpack.Decoder(ServerMessage)
_encoder = msgspec.msgpack.Encoder()


class FrameError(ValueError):
    """A client frame that is not a protocol message; the message says what is wrong."""


def decode_client(frame: bytes) -> ClientMessage:
    if len(frame) > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {len(frame)} bytes is larger than {MAX_FRAME_BYTES}")
    try:
        message: ClientMessage = _client_decoder.decode(frame)
    except msgspec.DecodeError as exc:
        raise FrameError(f"not a protocol message: {exc}") from exc
    return message


def decode_server(frame: bytes) -> ServerMessage:
    message: ServerMessage = _server_decoder.decode(frame)
    return message


def encode(message: ClientMessage | ServerMessage) -> bytes:
    return _encoder.encode(message)


def to_bytes(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=FLOAT).tobytes()


def from_bytes(data: bytes, size: int, name: str) -> np.ndarray:
    """The float64 array in `data`, which must hold exactly `size` finite values."""
    if len(data) != size * FLOAT.itemsize:
        raise ValueError(
            f"{name} has {len(data)} bytes; this model needs {size} float64 values ({size * 8} bytes)"
        )
    values = np.frombuffer(data, dtype=FLOAT)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return values
