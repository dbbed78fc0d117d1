"""How a drafted task will be trained, and how long that takes on this machine.

One place decides, so later work (base policies for fine-tuning, GPU and Modal backends) grows these
functions instead of scattering the rules. The time comes from server/training/presets.py, the one home
of the measured training speeds.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from server.checks.types import CheckResult
from server.policies.library import PolicySummary
from server.scenes.types import SceneInfo
from server.training.presets import (
    COMMAND_SECONDS,
    CPU_NOT_LEARNED,
    default_steps,
    duration_text,
    estimate_seconds,
    fine_tune_steps,
    resolve_preset,
)
from server.training.types import Device

# The three tiers, cheapest first: drive a base policy with commands (no training), fine-tune a base with
# the new reward, or train from scratch.
TrainingMethod = Literal["command", "fine_tuning", "full_training"]
# server/planning/reflection.py: a fine-tune that fails its check is followed by rounds from scratch,
# unless it nearly passed (then the next round continues it).
AFTER_A_FAILED_FINE_TUNE = (
    "; should it fail its check, the next rounds train from scratch (or continue it, if it nearly passed)"
)
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
    timesteps: int | None = None  # the training budget of a fine-tune or full training job (None: none)


# No GPU training speeds were measured here: Playground's published figure for the Go1 joystick base (about
# 7 minutes on an RTX 4090) stands in for every scene until they are. PROVISIONAL.
GPU_FULL_SECONDS = 420.0


class TierUnavailable(ValueError):  # noqa: N818 (reads as the condition)
    """A forced tier that cannot run here; the message says why and the one action that makes it possible."""

    def __init__(self, method: TrainingMethod, reason: str) -> None:
        super().__init__(reason)
        self.method = method


def pick_base(scene: SceneInfo, bases: list[PolicySummary]) -> PolicySummary | None:
    """The base a tier uses for `scene`: a shipped one first, then the user's newest."""
    mine = [b for b in bases if b.base is not None and b.scene_id == scene.id]
    shipped = [b for b in mine if b.base == "shipped"]
    if shipped:
        return shipped[0]
    return max(mine, key=lambda b: b.created_at, default=None)


def how_to_get_base(scene: SceneInfo) -> str:
    return (
        f"Prepare a base policy for {scene.id} (Library > Prepare), "
        f"or run scripts/build_bases.py --scene {scene.id}"
    )


def _sentence(seconds: float, device: Device) -> str:
    where = "this computer's GPU" if device == "gpu" else "this computer's CPU"
    return f"{duration_text(seconds)} on {where}"


def _training_seconds(scene: SceneInfo, device: Device, timesteps: int, full_steps: int) -> float:
    if device == "gpu":
        return GPU_FULL_SECONDS * timesteps / full_steps
    return estimate_seconds("auto", family=scene.family, timesteps=timesteps, scene_id=scene.id)


def _what_the_base_did(result: CheckResult) -> str:
    if result.passed_episodes == 0:
        return (
            f". The base does none of this task: its rollouts fail the check from every start "
            f"({result.summary}); a fine-tune keeps what its base does, so training from scratch is faster"
        )
    return f". The base passes the check from {result.passed_episodes} of {result.episodes} starts"


def plan_tiers(
    scene: SceneInfo,
    *,
    schedule_possible: bool,
    bases: list[PolicySummary],
    device: Device = "cpu",
    budget: TimeBudget = "fast",
    override: TrainingMethod | None = None,
    base_check: CheckResult | None = None,
) -> tuple[TierOption, list[TierOption], str | None]:
    """(the chosen tier, all three cheapest first, the base it uses or None).

    command: the scene takes a command (SceneInfo.command), the sentence reads as one (`schedule_possible`:
    the drafter made a schedule of it) and a base exists; fine_tuning: a base for the scene exists; full
    training: always. `budget` picks: fast the cheapest available, medium fine-tuning else full, unlimited
    full. `override` forces a tier: TierUnavailable (its reason names the missing base and how to get it)
    when it cannot run.

    `base_check`: the task's check judged on rollouts of the base (RewardChecker.judge_base), once drafted.
    A base that fails it from every start does none of the task, and a fine-tune keeps what its base does
    (measured: the placed carts, docs/BENCHMARKS.md), so `fast` then trains from scratch; `medium` keeps the
    fine-tune the user asked for, and its summary says what the base did.
    """
    base = pick_base(scene, bases)
    base_id = base.id if base is not None else None
    no_base = f"no base policy for {scene.id} in the library: {how_to_get_base(scene)}"
    preset = resolve_preset("auto", device)
    full_steps = default_steps(preset, scene.family, scene.id)

    if scene.command is None:
        command_reason = f"{scene.name} takes no commands (the command tier is for joystick scenes)"
    elif not schedule_possible:
        command_reason = (
            "the task does not read as a motion command (e.g. 'walk backwards slowly, then turn left')"
        )
    elif base is None:
        command_reason = no_base
    else:
        command_reason = ""
    command = TierOption(
        method="command",
        available=not command_reason,
        summary=f"plays the base policy '{base.name}' driven by commands from the sentence; no training"
        if base is not None
        else "plays a base policy driven by commands from the sentence; no training",
        estimate_s=COMMAND_SECONDS if not command_reason else None,
        estimate="at once (a few seconds to compile the playback)" if not command_reason else "",
        base_policy=base_id if not command_reason else None,
        unavailable_reason=command_reason,
    )

    tune_steps = fine_tune_steps(preset, scene.family, scene.id)
    tune_s = _training_seconds(scene, device, tune_steps, full_steps)
    base_does_none = base is not None and base_check is not None and base_check.passed_episodes == 0
    fine = TierOption(
        method="fine_tuning",
        available=base is not None,
        summary=(
            f"starts from the base policy '{base.name}'" if base is not None else "starts from a base policy"
        )
        + " and trains it briefly with the new reward"
        + AFTER_A_FAILED_FINE_TUNE
        + (_what_the_base_did(base_check) if base is not None and base_check is not None else ""),
        estimate_s=tune_s if base is not None else None,
        # A fixed share of a full job's steps (FINE_TUNE_FRACTION, provisional); the check stops it early.
        estimate=_sentence(tune_s, device) + " at most" if base is not None else "",
        base_policy=base_id,
        unavailable_reason="" if base is not None else no_base,
        timesteps=tune_steps if base is not None else None,
    )

    full_s = _training_seconds(scene, device, full_steps, full_steps)
    full_sentence = _sentence(full_s, device)
    if device == "cpu" and scene.family != "classic_control":
        full_sentence += "; robots usually need a GPU's budget (minutes there) to learn to walk or grasp"
    if device == "cpu" and scene.id in CPU_NOT_LEARNED:
        full_sentence += "; " + CPU_NOT_LEARNED[scene.id]
    full = TierOption(
        method="full_training",
        available=True,
        summary="trains a new policy from scratch with the new reward",
        estimate_s=full_s,
        estimate=full_sentence,
    )

    options = [command, fine, full]
    by_method = {o.method: o for o in options}
    if override is not None:
        chosen = by_method[override]
        if not chosen.available:
            raise TierUnavailable(
                override, f"{override.replace('_', ' ')} cannot run: {chosen.unavailable_reason}"
            )
    elif budget == "fast":
        chosen = next(o for o in options if o.available and not (o is fine and base_does_none))
    elif budget == "medium":
        chosen = fine if fine.available else full
    else:
        chosen = full
    return chosen, options, chosen.base_policy
