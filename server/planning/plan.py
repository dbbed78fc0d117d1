"""How a drafted task will be trained, and how long that takes on this machine.

One place decides, so later work (base policies for fine-tuning, GPU and Modal backends) grows these
functions instead of scattering the rules. The time comes from server/training/presets.py, the one home
of the measured training speeds.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from server.scenes.types import SceneInfo
from server.training.presets import estimate_seconds

# The three tiers, cheapest first: drive a base policy with commands (no training), fine-tune a base with
# the new reward, or train from scratch.
TrainingMethod = Literal["command", "fine_tuning", "full_training"]
# How long the user will wait: `fast` takes the cheapest tier that can do the task, `medium` at most a
# fine-tune, `unlimited` trains from scratch.
TimeBudget = Literal["fast", "medium", "unlimited"]


class TierOption(msgspec.Struct, frozen=True, kw_only=True):
    """One tier as the task panel shows it: what it would do, how long, and whether it can run here."""

    method: TrainingMethod
    available: bool
    summary: str  # what choosing it does, e.g. "plays the Go1 base walking backwards at 0.5 m/s"
    estimate_s: float | None  # None when unavailable
    estimate: str  # a sentence for people ("at once", "about 2 minutes on this computer's CPU")
    base_policy: str | None = None  # the base it starts from or drives
    # Why it cannot run, and the one action that makes it possible (e.g. "Prepare a base policy").
    unavailable_reason: str = ""


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
