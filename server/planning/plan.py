"""How a drafted policy will be trained, and roughly how long that takes on this machine.

One place decides, so later work (base policies for fine-tuning, GPU and Modal backends) grows these
functions instead of scattering the rules.
"""

from __future__ import annotations

from typing import Literal

from server.scenes.types import SceneInfo

TrainingMethod = Literal["full_training", "fine_tuning"]

# Wall-clock seconds for the CPU presets on 2 cores (shared/FIELD_NOTES.md: Cartpole reached reward 984
# in about 2 minutes). Locomotion and manipulation need a GPU to learn in reasonable time.
_CPU_SECONDS = {"classic_control": 180.0, "locomotion": 6 * 3600.0, "manipulation": 6 * 3600.0}


def training_method(scene: SceneInfo, base_policy_id: str | None = None) -> TrainingMethod:
    """Full training until the policy library offers base policies to start from."""
    return "fine_tuning" if base_policy_id else "full_training"


def training_time_estimate(scene: SceneInfo, method: TrainingMethod) -> tuple[float, str]:
    """(seconds, sentence) for training on this machine's CPU."""
    seconds = _CPU_SECONDS[scene.family] * (0.5 if method == "fine_tuning" else 1.0)
    if seconds < 3600:
        return seconds, f"about {round(seconds / 60)} minutes on this computer's CPU"
    return seconds, f"about {round(seconds / 3600)} hours on this computer's CPU; a GPU makes it minutes"
