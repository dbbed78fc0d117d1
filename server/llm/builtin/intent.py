"""What a task sentence asks for, read with plain rules (no LLM): the built-in drafter's input."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"(-?\d+(?:\.\d+)?)"
FAST, SLOW = -1.0, -2.0  # `Intent.speed` markers for "fast" and "slowly" (no number given)


@dataclass(frozen=True)
class Intent:
    direction: str | None  # forward, backward, left, right
    speed: float | None  # m/s, when the text gives one ("at 0.5 m/s"); FAST / SLOW for words
    height: float | None  # m ("at 0.3 m")
    turn: str | None  # left, right
    jump: bool
    still: bool
    hind_legs: bool
    cart: float | None  # where the sentence puts the cart: -1 left, 1 right, 0 the middle; None: nowhere
    point: tuple[float, float, float] | None
    lift: bool
    stand: bool = False  # "stand (up)", "get up": a standing height, not only stillness
    no_fall: bool = False  # "without falling", "stay upright", "don't fall": height and upright
    swing_up: bool = False  # "swing up": the pole starts down, judged once it had time to get up
    target: bool = False  # "reach the target", "to the goal": the scene's own target
    spin: bool = False  # "spin", "rotate"
    reverse: bool = False  # "the other way", "reverse", "counterclockwise" (spin direction)
    follow_command: bool = False  # "follow the joystick command": track the env's own command, any one
    stay: bool = False  # "keep it there", "stay on the target", "hold it at the goal": there most of the time


def parse(task: str) -> Intent:
    text = task.lower()
    words = set(re.findall(r"[a-z]+", text))
    direction = None
    if words & {"backward", "backwards", "back", "reverse"} and not re.search(r"\bback legs\b", text):
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
        speed = None if "run" in words and not words & {"fast", "quickly", "sprint"} else FAST
    elif words & {"slowly", "slow", "gently"}:
        speed = SLOW
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
    cart = None  # None: the sentence puts the cart nowhere ("keep the cart still" is not "in the middle")
    if re.search(r"\b(on|at|to) the (left|right)\b", text) or ("cart" in words and words & {"left", "right"}):
        cart = -1.0 if "left" in words else 1.0
    elif "cart" in words and words & {"middle", "centre", "center", "centred", "centered", "central"}:
        cart = 0.0
    point = None
    if m := re.search(r"\(\s*" + _NUMBER + r"\s*,\s*" + _NUMBER + r"\s*,\s*" + _NUMBER + r"\s*\)", text):
        point = (float(m.group(1)), float(m.group(2)), float(m.group(3)))
    no_fall = bool(
        re.search(
            r"without (falling|fall|tipping|flipping|toppling)|(don'?t|not|never) (fall|flip|tip)", text
        )
        or re.search(
            r"\b(stay|stays|staying|keep|remain)s? (upright|up|standing|on (its|his|her) feet)\b", text
        )
    )
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
        stand=bool(re.search(r"\bstand|\bget(s)? up\b", text)),
        no_fall=no_fall,
        swing_up=bool(re.search(r"swing\w*(?:\s+\w+){0,3}?[\s-]+up\b|swingup", text)),
        target=bool(words & {"target", "goal", "reach", "touch", "catch", "cup"}),
        spin=bool(words & {"spin", "spins", "spinning", "rotate", "rotating", "twirl"}),
        reverse=bool(re.search(r"other way|reverse|counter-?clockwise|anticlockwise|opposite", text)),
        follow_command=bool(
            re.search(r"\bjoystick\b|\b(follow|track|obey)\w*\b.*\b(command|commands|commanded)\b", text)
        ),
        stay=bool(
            re.search(
                r"\b(keep|hold|stay|remain)s?\b[^.]*"
                r"\b(there|on it|on the (target|goal)|at the (target|goal))\b",
                text,
            )
        ),
    )
