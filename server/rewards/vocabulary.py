"""Build a scene's vocabulary (every `s.<name>` a term may read) from its loaded Playground env.

Worker processes only: it reads `env.mj_model` and evaluates entries with JAX. Entries come from three
layers, later ones never overriding earlier ones: generic (every scene), generated from the model's
names (bodies, sites, joints, sensors), and hand-written per robot kind (families.py; the kind comes
from the scene catalogue). Shapes are derived with `jax.eval_shape` on a real state, never written by
hand.
"""

from __future__ import annotations

import re
from typing import Any

import jax
import jax.numpy as jnp

from server.inference.env_config import COMMAND_KEY, env_command_spec
from server.rewards.context import Entry, RewardContext
from server.rewards.families import FLOATING_BASE, KIND_ENTRIES, LEGGED, legged
from server.rewards.helpers import JNP_FUNCTIONS, helper_entries
from server.rewards.types import Vocabulary, VocabularyEntry
from server.scenes.catalog import robot_kind

_FREE, _BALL, _SLIDE, _HINGE = 0, 1, 2, 3  # mujoco.mjtJoint values
_MAX_NAMED_PER_KIND = 200  # keeps the vocabulary readable for an LLM prompt on big models


def sanitise(name: str) -> str:
    """A model name as an identifier part: lowercase, runs of other characters become one `_`."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def generic_entries(env: Any) -> dict[str, Entry]:
    return {
        "qpos": Entry(lambda c: c.data.qpos, "generalised positions (m, rad; free joints: xyz + quaternion)"),
        "qvel": Entry(lambda c: c.data.qvel, "generalised velocities (m/s, rad/s)"),
        "ctrl": Entry(lambda c: c.data.ctrl, "actuator controls applied this step"),
        "action": Entry(lambda c: c.action, "the policy's action this step, in [-1, 1]"),
        "prev_action": Entry(lambda c: c.prev_action, "the policy's action at the previous step"),
        "actuator_force": Entry(lambda c: c.data.actuator_force, "actuator forces (N or N m)"),
        "time": Entry(lambda c: c.data.time, "simulation time since reset (s)"),
    }


def named_entries(env: Any) -> dict[str, Entry]:
    """body_<n>_pos, site_<n>_pos, joint_<n>_pos/_vel, sensor_<n>; unnamed parts and clashes are skipped."""
    model = env.mj_model
    out: dict[str, Entry] = {}

    def add(name: str, entry: Entry) -> None:
        out.setdefault(name, entry)  # first wins: two model names can sanitise to the same identifier

    for i in range(1, min(model.nbody, _MAX_NAMED_PER_KIND)):  # body 0 is the world
        if n := sanitise(model.body(i).name):
            add(
                f"body_{n}_pos",
                Entry(lambda c, i=i: c.data.xpos[i], f"position of body {model.body(i).name!r}, world (m)"),  # type: ignore[misc]
            )
    for i in range(min(model.nsite, _MAX_NAMED_PER_KIND)):
        if n := sanitise(model.site(i).name):
            add(
                f"site_{n}_pos",
                Entry(
                    lambda c, i=i: c.data.site_xpos[i],  # type: ignore[misc]
                    f"position of site {model.site(i).name!r}, world (m)",
                ),
            )
    for i in range(min(model.njnt, _MAX_NAMED_PER_KIND)):
        n = sanitise(model.joint(i).name)
        if not n:
            continue
        q, v, kind = int(model.jnt_qposadr[i]), int(model.jnt_dofadr[i]), int(model.jnt_type[i])
        nq, nv = {_FREE: (7, 6), _BALL: (4, 3)}.get(kind, (1, 1))
        unit = "m" if kind == _SLIDE else "rad"
        if nq == 1:
            add(
                f"joint_{n}_pos",
                Entry(lambda c, q=q: c.data.qpos[q], f"joint {model.joint(i).name!r} position ({unit})"),  # type: ignore[misc]
            )
            add(
                f"joint_{n}_vel",
                Entry(lambda c, v=v: c.data.qvel[v], f"joint {model.joint(i).name!r} velocity ({unit}/s)"),  # type: ignore[misc]
            )
        else:
            add(
                f"joint_{n}_pos",
                Entry(lambda c, q=q, nq=nq: c.data.qpos[q : q + nq], f"joint {model.joint(i).name!r} qpos"),  # type: ignore[misc]
            )
            add(
                f"joint_{n}_vel",
                Entry(lambda c, v=v, nv=nv: c.data.qvel[v : v + nv], f"joint {model.joint(i).name!r} qvel"),  # type: ignore[misc]
            )
    for i in range(min(model.nsensor, _MAX_NAMED_PER_KIND)):
        n = sanitise(model.sensor(i).name)
        if not n:
            continue
        adr, dim = int(model.sensor_adr[i]), int(model.sensor_dim[i])
        # A 1-dim sensor reads as a scalar, so `s.sensor_touch > 0` needs no [0].
        stop = adr + 1 if dim == 1 else adr + dim
        add(
            f"sensor_{n}",
            Entry(
                lambda c, adr=adr, stop=stop, dim=dim: (  # type: ignore[misc]
                    c.data.sensordata[adr] if dim == 1 else c.data.sensordata[adr:stop]
                ),
                f"sensor {model.sensor(i).name!r} reading",
            ),
        )
    return out


def floating_base_entries(env: Any) -> dict[str, Entry]:
    """Entries of a robot whose first joint is a free joint (its body is "the base")."""
    model = env.mj_model
    if model.njnt == 0 or int(model.jnt_type[0]) != _FREE:
        return {}
    base = int(model.jnt_bodyid[0])
    q, v = int(model.jnt_qposadr[0]), int(model.jnt_dofadr[0])
    actuated = [
        int(model.actuator_trnid[a, 0])
        for a in range(model.nu)
        if int(model.actuator_trntype[a]) == 0
        and int(model.jnt_type[int(model.actuator_trnid[a, 0])]) in (_HINGE, _SLIDE)
    ]
    qadr = jnp.array([int(model.jnt_qposadr[j]) for j in actuated], dtype=jnp.int32)
    vadr = jnp.array([int(model.jnt_dofadr[j]) for j in actuated], dtype=jnp.int32)

    def rot(c: RewardContext) -> Any:
        return c.data.xmat[base]  # body-to-world rotation; its rows are the world axes in the body frame

    # A free joint's qvel is (linear velocity in world coordinates, angular velocity in the body frame).
    return {
        "base_pos": Entry(lambda c: c.data.qpos[q : q + 3], "base position, world frame (m)"),
        "base_height": Entry(lambda c: c.data.qpos[q + 2], "base height above z = 0 (m)"),
        "base_lin_vel": Entry(
            lambda c: rot(c).T @ c.data.qvel[v : v + 3],
            "base linear velocity in the body frame (m/s); x forward, y left",
        ),
        "base_ang_vel": Entry(
            lambda c: c.data.qvel[v + 3 : v + 6],
            "base angular velocity in the body frame (rad/s); z = yaw rate, + = left turn",
        ),
        "up_vector": Entry(lambda c: rot(c)[2], "world +z in the body frame; (0, 0, 1) when upright"),
        "gravity": Entry(
            lambda c: -rot(c)[2], "unit gravity direction in the body frame; (0, 0, -1) when upright"
        ),
        "joint_pos": Entry(lambda c: c.data.qpos[qadr], "positions of the actuated joints (rad or m)"),
        "joint_vel": Entry(lambda c: c.data.qvel[vadr], "velocities of the actuated joints (rad/s or m/s)"),
    }


def command_entries(env: Any) -> dict[str, Entry]:
    """`command`, for an env that keeps one in `state.info` (Playground's joystick envs sample one per
    episode, and some resample it mid-episode): what the policy is asked to do at this step."""
    spec = env_command_spec(env)
    if spec is None:
        return {}
    units = spec.units or [""] * len(spec.names)
    parts = ", ".join(f"{n} ({u})" if u else n for n, u in zip(spec.names, units, strict=True))
    ranges = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(spec.low, spec.high, strict=True))
    three = len(spec.names) == 3  # Playground's joystick convention: body-frame vx, vy, then yaw rate
    frame = "; body frame, x forward, y left, + turn = left" if three else ""
    return {
        "command": Entry(
            lambda c: c.info[COMMAND_KEY],
            f"the env's current command: {parts}{frame}; ranges {ranges}",
        )
    }


def build_entries(scene_id: str, env: Any) -> dict[str, Entry]:
    kind = robot_kind(scene_id)
    entries = generic_entries(env)
    if kind in FLOATING_BASE:  # only robots with a base take a command; tracing reset costs time elsewhere
        entries |= command_entries(env)
    layers = [named_entries(env)]
    if kind in FLOATING_BASE:
        layers.append(floating_base_entries(env))
    if kind in LEGGED:
        layers.append(legged(env))
    if kind in KIND_ENTRIES:
        layers.append(KIND_ENTRIES[kind](env))
    for layer in reversed(layers):  # hand-written layers take precedence over generated names
        for name, entry in layer.items():
            entries.setdefault(name, entry)
    return dict(sorted(entries.items(), key=lambda item: (item[0] not in _ORDER_FIRST, item[0])))


_ORDER_FIRST = frozenset({"qpos", "qvel", "ctrl", "action", "prev_action", "actuator_force", "time"})


def describe(scene_id: str, entries: dict[str, Entry], ctx: RewardContext) -> Vocabulary:
    """The vocabulary record, with every entry's shape derived by `jax.eval_shape` on `ctx`."""
    shapes = jax.eval_shape(lambda c: {n: e.fn(c) for n, e in entries.items()}, ctx)
    return Vocabulary(
        scene_id=scene_id,
        entries=[
            VocabularyEntry(name=n, shape=[int(d) for d in shapes[n].shape], description=e.description)
            for n, e in entries.items()
        ],
        helpers=helper_entries(),
        jnp_functions=list(JNP_FUNCTIONS),
    )
