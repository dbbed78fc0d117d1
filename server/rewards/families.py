"""Per-robot-kind vocabulary entries, written by hand on top of the generated ones.

A scene's robot kind ("cartpole", "quadruped", "arm"...) comes from the catalogue (scenes/catalog.toml,
server/scenes/catalog.py). Each kind adds a few named quantities that a person would ask for ("pole
angle", "forward velocity", "gripper position"); everything else comes from the model's names
(vocabulary.py). Runs in worker processes only (it reads a loaded env).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from server.rewards.context import Entry, RewardContext

LEGGED = frozenset({"quadruped", "biped", "humanoid"})
FLOATING_BASE = frozenset({"quadruped", "biped", "humanoid", "fish"})
FOOT_CONTACT_HEIGHT = 0.04  # m: fallback rule, a foot lower than this counts as touching the ground


def _joint(model: Any, name: str) -> tuple[int, int] | None:
    """(qpos address, dof address) of a named joint, or None."""
    try:
        joint = model.joint(name)
    except KeyError:
        return None
    return int(model.jnt_qposadr[joint.id]), int(model.jnt_dofadr[joint.id])


def _id(model: Any, kind: str, name: str) -> int | None:
    try:
        return int(getattr(model, kind)(name).id)
    except KeyError:
        return None


def _wrap(angle: Any) -> Any:
    return jnp.arctan2(jnp.sin(angle), jnp.cos(angle))


def _pole_entries(model: Any, hinge: str) -> dict[str, Entry]:
    adr = _joint(model, hinge)
    if adr is None:
        return {}
    q, v = adr
    return {
        "pole_angle": Entry(
            lambda c: _wrap(c.data.qpos[q]), "pole angle from upright, wrapped to [-pi, pi] (rad)"
        ),
        "pole_angular_velocity": Entry(lambda c: c.data.qvel[v], "pole angular velocity (rad/s)"),
    }


def cartpole(env: Any) -> dict[str, Entry]:
    model = env.mj_model
    entries = _pole_entries(model, "hinge_1")
    slider = _joint(model, "slider")
    if slider is not None:
        q, v = slider
        entries["cart_position"] = Entry(
            lambda c: c.data.qpos[q], "cart position along the rail, 0 = centre (m)"
        )
        entries["cart_velocity"] = Entry(lambda c: c.data.qvel[v], "cart velocity along the rail (m/s)")
    return entries


def pendulum(env: Any) -> dict[str, Entry]:
    return _pole_entries(env.mj_model, "hinge")


def planar(env: Any) -> dict[str, Entry]:
    """Cheetah, Walker, Hopper: a torso on x/z slide joints and a y hinge (dm_control's planar walkers)."""
    model = env.mj_model
    entries: dict[str, Entry] = {}
    rootx = _joint(model, "rootx")
    if rootx is not None:
        vx = rootx[1]
        entries["forward_velocity"] = Entry(lambda c: c.data.qvel[vx], "torso velocity along +x (m/s)")
    torso = _id(model, "body", "torso")
    if torso is not None:
        entries["torso_height"] = Entry(lambda c: c.data.xpos[torso, 2], "torso height above the floor (m)")
        entries["torso_upright"] = Entry(
            lambda c: c.data.xmat[torso, 2, 2], "cosine of the torso's tilt: 1 upright, -1 upside down"
        )
    rooty = _joint(model, "rooty")
    if rooty is not None:
        vy = rooty[1]
        entries["pitch_rate"] = Entry(
            lambda c: c.data.qvel[vy], "torso pitch rate about y (rad/s), + = nose down"
        )
    return entries


def _vector_between(
    env: Any, kind: str, source: str, target: str, name: str, description: str
) -> dict[str, Entry]:
    """`name`: world-frame vector from the `kind` ("geom" or "site") named `source` to `target`."""
    model = env.mj_model
    a, b = _id(model, kind, source), _id(model, kind, target)
    if a is None or b is None:
        return {}
    positions = "geom_xpos" if kind == "geom" else "site_xpos"
    return {name: Entry(lambda c: getattr(c.data, positions)[b] - getattr(c.data, positions)[a], description)}


def reacher(env: Any) -> dict[str, Entry]:
    return _vector_between(
        env, "geom", "finger", "target", "finger_to_target", "vector from fingertip to target (m)"
    )


def point_mass(env: Any) -> dict[str, Entry]:
    return _vector_between(
        env, "geom", "pointmass", "target", "mass_to_target", "vector from the mass to the target (m)"
    )


def acrobot(env: Any) -> dict[str, Entry]:
    return _vector_between(
        env, "site", "tip", "target", "tip_to_target", "vector from the arm tip to the target (m)"
    )


def arm(env: Any) -> dict[str, Entry]:
    """Panda and Aloha: the env's own gripper site and object body ids (Playground names them)."""
    entries: dict[str, Entry] = {}
    gripper = getattr(env, "_gripper_site", None)
    if gripper is not None:
        g = int(gripper)
        entries["gripper_pos"] = Entry(
            lambda c: c.data.site_xpos[g], "gripper (tool centre) position, world (m)"
        )
    for side in ("left", "right"):
        site = getattr(env, f"_{side}_gripper_site", None)
        if site is not None:
            sid = int(site)
            entries[f"{side}_gripper_pos"] = Entry(
                lambda c, sid=sid: c.data.site_xpos[sid],  # type: ignore[misc]
                f"{side} gripper position, world (m)",
            )
    obj = getattr(env, "_obj_body", getattr(env, "_box_body", None))
    if obj is not None:
        o = int(obj)
        entries["object_pos"] = Entry(
            lambda c: c.data.xpos[o], "position of the object to manipulate, world (m)"
        )
    return entries


def hand(env: Any) -> dict[str, Entry]:
    qids = getattr(env, "_cube_qids", None)
    if qids is None:
        return {}
    q0 = int(qids[0])
    return {
        "object_pos": Entry(lambda c: c.data.qpos[q0 : q0 + 3], "cube position, world (m)"),
        "object_quat": Entry(
            lambda c: c.data.qpos[q0 + 3 : q0 + 7], "cube orientation quaternion (w, x, y, z)"
        ),
    }


def _constants_module(env: Any) -> Any:
    """The robot's own constants module next to the env's module, e.g. `...locomotion.go1.go1_constants`."""
    package = type(env).__module__.rsplit(".", 1)[0]
    leaf = package.rsplit(".", 1)[-1]
    for name in (f"{leaf}_constants", "constants"):
        try:
            return importlib.import_module(f"{package}.{name}")
        except ImportError:
            continue
    return None


def find_feet(env: Any) -> tuple[str, list[int]]:
    """Foot site ids (or body ids) by the first rule that applies; the first value says which ("site"/"body").

    1. the robot's constants module lists FEET_SITES (Go1, Spot, G1, H1, T1, Op3, Apollo, Berkeley);
    2. the env resolved `_feet_site_id` itself (Barkour);
    3. bodies whose name ends in "foot" (dm_control Humanoid: left_foot, right_foot).
    """
    model = env.mj_model
    constants = _constants_module(env)
    names = getattr(constants, "FEET_SITES", None) if constants is not None else None
    if names:
        ids = [i for i in (_id(model, "site", n) for n in names) if i is not None]
        if len(ids) == len(names):
            return "site", ids
    own = getattr(env, "_feet_site_id", None)
    if own is not None and len(own):
        return "site", [int(i) for i in own]
    bodies = [i for i in range(model.nbody) if (model.body(i).name or "").lower().endswith("foot")]
    return "body", bodies


def _contact_sensor_groups(env: Any, n_feet: int) -> list[list[int]] | None:
    """Sensor ids of the env's own "foot touches floor" sensors, one group per foot, if it has them."""
    model = env.mj_model

    def ids(value: Any) -> list[int]:
        out = []
        for item in list(value):
            out.append(_id(model, "sensor", item) if isinstance(item, str) else int(item))
        return [i for i in out if i is not None]

    both = getattr(env, "_feet_floor_found_sensor", None)
    if both is not None and len(ids(both)) == n_feet:
        return [[i] for i in ids(both)]
    for pattern in ("_{}_feet_floor_found_sensor", "_{}_foot_floor_found_sensor"):
        left, right = getattr(env, pattern.format("left"), None), getattr(env, pattern.format("right"), None)
        if left is not None and right is not None and n_feet == 2:
            return [ids(left), ids(right)]
    return None


def legged(env: Any) -> dict[str, Entry]:
    kind, feet = find_feet(env)
    if not feet:
        return {}
    feet_arr = jnp.array(feet)
    if kind == "site":
        pos: Callable[[RewardContext], Any] = lambda c: c.data.site_xpos[feet_arr]  # noqa: E731
    else:
        pos = lambda c: c.data.xpos[feet_arr]  # noqa: E731
    entries = {
        "foot_pos": Entry(pos, f"positions of the {len(feet)} feet, world frame (m), one row per foot")
    }
    groups = _contact_sensor_groups(env, len(feet))
    if groups is not None:
        model = env.mj_model
        adrs = [jnp.array([int(model.sensor_adr[i]) for i in group]) for group in groups]

        def contact(c: RewardContext) -> Any:
            return jnp.stack([jnp.any(c.data.sensordata[a] > 0) for a in adrs]).astype(jnp.float32)

        how = "the robot's floor-contact sensors"
    else:

        def contact(c: RewardContext) -> Any:
            return (pos(c)[:, 2] < FOOT_CONTACT_HEIGHT).astype(jnp.float32)

        how = f"foot height below {FOOT_CONTACT_HEIGHT} m"
    entries["foot_contact"] = Entry(contact, f"1 where a foot touches the ground, else 0 (from {how})")
    return entries


KIND_ENTRIES: dict[str, Callable[[Any], dict[str, Entry]]] = {
    "cartpole": cartpole,
    "pendulum": pendulum,
    "planar": planar,
    "reacher": reacher,
    "point_mass": point_mass,
    "acrobot": acrobot,
    "arm": arm,
    "hand": hand,
}
