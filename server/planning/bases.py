"""What a base policy is trained on: each scene's own task, as a sentence the built-in drafter turns into
a reward program and its success check (the same drafts a user would get for that sentence).

A base serves its scene's fine-tune tier (and, for a joystick scene, the command tier): the sentences are
the scene's Playground task in plain words, the ones scripts/bench_behaviour.py judges. Scenes not listed
take their family's sentence; a joystick scene (its env keeps a command) learns to follow whatever command
its episodes sample, since a base that only walks forward would ignore the command tier's schedule.
"""

from __future__ import annotations

from server.scenes.types import SceneFamily, SceneInfo

OWN_TASKS: dict[str, str] = {
    "CartpoleBalance": "keep the pole upright",
    "CartpoleSwingup": "swing the pole up and hold it",
    "PendulumSwingup": "swing the pendulum up and keep it upright",
    "AcrobotSwingup": "swing the arm up so its tip reaches the target",
    "CheetahRun": "run forward fast",
    "HopperStand": "stand up",
    "HopperHop": "hop forward",
    "WalkerStand": "stand up tall",
    "WalkerWalk": "walk forward without falling",
    "WalkerRun": "run forward",
    "ReacherEasy": "touch the target",
    "ReacherHard": "touch the target",
    "FingerSpin": "spin the spinner",
}
JOYSTICK_TASK = "follow the joystick command"  # the built-in drafter tracks `s.command` for it
_BY_FAMILY: dict[SceneFamily, str] = {
    "classic_control": "stand upright",
    "locomotion": "walk forward at 0.5 m/s",
    "manipulation": "lift the cube",
}


def base_task(scene: SceneInfo) -> str:
    """The sentence a base for `scene` is trained on."""
    if scene.id in OWN_TASKS:
        return OWN_TASKS[scene.id]
    return JOYSTICK_TASK if scene.command is not None else _BY_FAMILY[scene.family]


def base_name(scene: SceneInfo) -> str:
    return f"{scene.name} base"
