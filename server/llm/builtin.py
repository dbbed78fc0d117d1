"""The offline drafter: a deterministic reward program from the task text, with no LLM.

Picks a template by what the scene's vocabulary offers (a pole, a floating base, a planar torso, a
gripper, a target vector) and fills it with parameters read from the text: direction, speed, height,
turning, jumping, balancing, standing on hind legs, staying still, reaching a point, lifting. Every
program ends with a small effort penalty. Pure string work: safe in the API process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.rewards.types import Vocabulary
from server.scenes.catalog import RobotEntry, robot_entry

_NUMBER = r"(-?\d+(?:\.\d+)?)"


@dataclass(frozen=True)
class Intent:
    direction: str | None  # forward, backward, left, right
    speed: float | None  # m/s, when the text gives one ("at 0.5 m/s", "fast", "slowly")
    height: float | None  # m ("at 0.3 m")
    turn: str | None  # left, right
    jump: bool
    still: bool
    hind_legs: bool
    cart: float | None  # target cart position for "cart at the left/right/centre"
    point: tuple[float, float, float] | None
    lift: bool


def parse(task: str) -> Intent:
    text = task.lower()
    words = set(re.findall(r"[a-z]+", text))
    direction = None
    if words & {"backward", "backwards", "back", "reverse"}:
        direction = "backward"
    elif words & {"sideways", "sidestep", "strafe"} or re.search(
        r"\b(walk|move|go|step)s? (to the )?left\b", text
    ):
        direction = "left"
    elif re.search(r"\b(walk|move|go|step)s? (to the )?right\b", text):
        direction = "right"
    elif words & {"forward", "forwards", "ahead", "run", "walk", "trot", "hop", "swim", "gallop", "move"}:
        direction = "forward"
    speed = None
    if m := re.search(_NUMBER + r"\s*(m/s|meters? per second|metres? per second)", text):
        speed = abs(float(m.group(1)))
    elif words & {"fast", "quickly", "sprint", "run"}:
        speed = None if "run" in words and not words & {"fast", "quickly", "sprint"} else -1.0  # -1: "fast"
    elif words & {"slowly", "slow", "gently"}:
        speed = -2.0  # -2: "slow"
    height = None
    if m := re.search(r"(?:height|at|of)\s+" + _NUMBER + r"\s*(m|meters?|metres?|cm)\b(?!/)", text):
        height = float(m.group(1)) / (100.0 if m.group(2) == "cm" else 1.0)
    turn = None
    if words & {"turn", "spin", "rotate", "circle", "circles", "yaw"}:
        turn = (
            "right"
            if re.search(r"\b(right|clockwise)\b", text) and "counterclockwise" not in text
            else "left"
        )
    cart = None
    if "cart" in words:
        cart = -1.0 if "left" in words else 1.0 if "right" in words else 0.0
    point = None
    if m := re.search(r"\(\s*" + _NUMBER + r"\s*,\s*" + _NUMBER + r"\s*,\s*" + _NUMBER + r"\s*\)", text):
        point = (float(m.group(1)), float(m.group(2)), float(m.group(3)))
    return Intent(
        direction=direction,
        speed=speed,
        height=height,
        turn=turn,
        jump="jump" in text or "hop in place" in text,
        still=bool(words & {"still", "stop", "freeze", "motionless"}) or "stay put" in text,
        hind_legs=bool(re.search(r"hind legs|back legs|rear legs|handstand|footstand|two legs", text)),
        cart=cart,
        point=point,
        lift=bool(words & {"lift", "pick", "raise"}),
    )


def _f(x: float) -> str:
    return f"{x:.4g}" if abs(x) >= 1e-4 else "0.0"


class _Program:
    def __init__(self, task: str) -> None:
        self.task = task
        self.terms: list[tuple[str, float, str, str]] = []  # name, weight, doc, body

    def add(self, name: str, weight: float, doc: str, body: str) -> None:
        self.terms.append((name, weight, doc, body))

    def render(self) -> str:
        # The task is quoted inside a docstring: drop what could end it or escape out of it.
        quoted = re.sub(r"[^\w\s.,;:!?()'/%+-]", " ", self.task).strip()[:300] or "(no task given)"
        weights = ", ".join(f"{name}={_f(weight)}" for name, weight, _, _ in self.terms)
        parts = [
            f'"""Task: {quoted}\n\nDrafted offline by the built-in template drafter."""\n',
            f"WEIGHTS = dict({weights})\n",
        ]
        for name, _, doc, body in self.terms:
            parts.append(f'\ndef {name}(s):\n    """{doc}"""\n    return {body}\n')
        return "\n".join(parts)


def _speed(intent: Intent, default: float, fast: float, slow: float) -> float:
    if intent.speed is None:
        return default
    return {-1.0: fast, -2.0: slow}.get(intent.speed, intent.speed)


def _catalogued_speed(robot: RobotEntry | None, default: float) -> float:
    """The robot's catalogued travel speed (m/s) for a task that names none, else `default`."""
    return robot.speed if robot is not None and robot.speed is not None else default


def _floating(p: _Program, intent: Intent, names: set[str], robot: RobotEntry | None) -> None:
    if intent.hind_legs:
        p.add(
            "stand_tall",
            1.0,
            "Body axis pointing up: standing on the hind legs.",
            "tolerance(s.up_vector[0], 0.9, 1.0, 0.7)",
        )
    elif intent.still or intent.jump or (not intent.direction and not intent.turn):
        if intent.jump:
            p.add("jump", 1.0, "Upward speed of the base (world z).", "clip(s.qvel[2], 0.0, 2.0)")
        p.add(
            "stay",
            1.0 if not intent.jump else 0.2,
            "Little horizontal motion.",
            "exp_kernel(s.base_lin_vel[0:2], 0.25)",
        )
    if intent.direction or intent.turn:
        speed = _speed(intent, _catalogued_speed(robot, 0.5), 1.5, 0.25)
        vx = {"forward": speed, "backward": -speed}.get(intent.direction or "", 0.0)
        vy = {"left": speed, "right": -speed}.get(intent.direction or "", 0.0)
        p.add(
            "track_velocity",
            1.0,
            f"Body-frame velocity near ({_f(vx)}, {_f(vy)}) m/s.",
            f"exp_kernel(s.base_lin_vel[0:2] - jnp.array([{_f(vx)}, {_f(vy)}]), 0.25)",
        )
        yaw = {"left": 1.0, "right": -1.0}.get(intent.turn or "", 0.0)
        p.add(
            "track_yaw_rate",
            0.5,
            f"Yaw rate near {_f(yaw)} rad/s.",
            f"exp_kernel(s.base_ang_vel[2] - {_f(yaw)}, 0.25)",
        )
    if intent.height is not None:
        p.add(
            "height",
            0.5,
            f"Base height near {_f(intent.height)} m.",
            f"exp_kernel(s.base_height - {_f(intent.height)}, 0.01)",
        )
    if not intent.hind_legs:
        p.add("upright", 0.5, "Stay upright.", "tolerance(s.up_vector[2], 0.9, 1.0, 0.5)")
    if "joint_vel" in names:
        p.add(
            "joint_speed", -0.0001, "Penalise fast joints (smoothness).", "jnp.sum(jnp.square(s.joint_vel))"
        )


def _manipulation(p: _Program, intent: Intent, names: set[str]) -> None:
    gripper = next((n for n in ("gripper_pos", "left_gripper_pos") if n in names), None)
    if gripper and intent.point is not None:
        x, y, z = intent.point
        p.add(
            "reach_point",
            1.0,
            f"Gripper at ({_f(x)}, {_f(y)}, {_f(z)}) m.",
            f"exp_kernel(s.{gripper} - jnp.array([{_f(x)}, {_f(y)}, {_f(z)}]), 0.05)",
        )
    elif gripper and "object_pos" in names:
        p.add(
            "reach_object",
            1.0,
            "Gripper close to the object.",
            f"exp_kernel(s.{gripper} - s.object_pos, 0.05)",
        )
        if intent.lift:
            target = intent.height if intent.height is not None else 0.2
            p.add(
                "lift",
                2.0,
                f"Object raised towards {_f(target)} m.",
                f"clip(s.object_pos[2] / {_f(target)}, 0.0, 1.0)",
            )
    elif "sensor_cube_angvel" in names:
        sign = -1.0 if intent.turn == "right" else 1.0
        p.add(
            "spin_cube",
            1.0,
            "Cube angular velocity about z.",
            f"clip({_f(sign)} * s.sensor_cube_angvel[2], -1.0, 1.0)",
        )
    if "object_pos" in names and "sensor_cube_angvel" in names:
        p.add("keep_cube", 0.5, "Do not drop the cube.", "tolerance(s.object_pos[2], -0.2, 1.0, 0.1)")


def draft_builtin(task: str, scene_id: str, vocabulary: Vocabulary) -> str:
    """A reward program for `task` on `scene_id`, using only names from `vocabulary`. Deterministic."""
    names = {entry.name for entry in vocabulary.entries}
    robot = robot_entry(scene_id)  # the catalogue's hints for this robot (scenes/catalog.toml)
    intent = parse(task)
    p = _Program(task)
    if "pole_angle" in names:
        if intent.still and "cart_velocity" in names:
            p.add("upright", 1.0, "Pole up (cos of its angle).", "(1.0 + jnp.cos(s.pole_angle)) / 2.0")
            p.add("still", 0.5, "Cart not moving.", "exp_kernel(s.cart_velocity, 0.5)")
        else:
            p.add("upright", 1.0, "Pole up (cos of its angle).", "(1.0 + jnp.cos(s.pole_angle)) / 2.0")
        if intent.cart is not None and "cart_position" in names:
            p.add(
                "cart_target",
                0.5,
                f"Cart near {_f(intent.cart)} m.",
                f"exp_kernel(s.cart_position - {_f(intent.cart)}, 0.5)",
            )
        p.add("pole_speed", -0.01, "Penalise a swinging pole.", "jnp.square(s.pole_angular_velocity)")
    elif "base_lin_vel" in names:
        _floating(p, intent, names, robot)
    elif "forward_velocity" in names:
        default = _catalogued_speed(robot, 3.0 if "run" in task.lower() else 1.0)
        speed = _speed(intent, default, 10.0, 0.5)
        if intent.still:
            p.add("still", 1.0, "Torso not moving.", "exp_kernel(s.forward_velocity, 0.5)")
        else:
            sign = -1.0 if intent.direction == "backward" else 1.0
            p.add(
                "move",
                1.0,
                f"Speed {_f(sign * speed)} m/s along x, saturating.",
                f"clip({_f(sign)} * s.forward_velocity / {_f(speed)}, 0.0, 1.0)",
            )
        if "torso_upright" in names and (robot is None or robot.upright):
            p.add("upright", 0.5, "Torso upright.", "(1.0 + s.torso_upright) / 2.0")
        if intent.height is not None and "torso_height" in names:
            p.add(
                "height",
                0.5,
                f"Torso near {_f(intent.height)} m.",
                f"exp_kernel(s.torso_height - {_f(intent.height)}, 0.05)",
            )
    elif names & {"gripper_pos", "left_gripper_pos", "sensor_cube_angvel"}:
        _manipulation(p, intent, names)
    else:
        vector = next(
            (n for n in ("finger_to_target", "tip_to_target", "mass_to_target") if n in names), None
        )
        if vector:
            p.add("reach_target", 1.0, "Close the distance to the target.", f"exp_kernel(s.{vector}, 0.05)")
        elif intent.still:
            p.add("still", 1.0, "Keep every joint still.", "exp_kernel(s.qvel, 1.0)")
        else:
            p.add(
                "keep_moving",
                1.0,
                "Default objective: keep the joints moving.",
                "jnp.tanh(jnp.sum(jnp.square(s.qvel)) / 10.0)",
            )
    if not p.terms:  # e.g. a manipulation scene without a gripper we know: a calm default
        p.add("still", 1.0, "Keep every joint still.", "exp_kernel(s.qvel, 1.0)")
    p.add("effort", -0.01, "Small effort penalty.", "jnp.mean(jnp.square(s.action))")
    return p.render()
