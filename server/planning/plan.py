"""How a drafted task will be trained, and how long that takes on this machine.

One place decides, so later work (base policies for fine-tuning, GPU and Modal backends) grows these
functions instead of scattering the rules. The time comes from server/training/presets.py, the one home
of the measured training speeds.
"""

from __future__ import annotations

from typing import Literal

from server.scenes.types import SceneInfo
from server.training.presets import estimate_seconds

TrainingMethod = Literal["full_training", "fine_tuning"]


def training_method(scene: SceneInfo, base_policy_id: str | None = None) -> TrainingMethod:
    """Full training until the policy library offers base policies to start from."""
    return "fine_tuning" if base_policy_id else "full_training"


def training_time_estimate(scene: SceneInfo, method: TrainingMethod) -> tuple[float, str]:
    """(seconds, sentence) for the job the default preset runs on this machine's CPU."""
    seconds = estimate_seconds("auto", family=scene.family, scene_id=scene.id)
    seconds *= 0.5 if method == "fine_tuning" else 1.0
    if seconds < 3600:
        sentence = f"about {max(1, round(seconds / 60))} minutes on this computer's CPU"
    else:
        sentence = f"about {round(seconds / 3600)} hours on this computer's CPU"
    if scene.family != "classic_control":
        sentence += "; robots usually need a GPU's budget (minutes there) to learn to walk or grasp"
    return seconds, sentence
