"""PPO presets by device and scene family, their step counts, and wall-time estimates for the UI.

- `cpu_quick`: a few thousand steps in seconds, for tests and smoke runs; it does not learn much.
- `cpu`: sized for this 2-core CPU: 64 envs, batch 32 x 16 minibatches, many updates, lr 1e-3
  (CartpoleBalance to eval >= 900 in 1.0-1.3 min for seeds 0-2, 0.9-1.8M steps; docs/BENCHMARKS.md).
  The remaining knobs are Playground's dm_control values.
- `playground`: Playground's own tuned config (`mujoco_playground.config.*_params.brax_ppo_config`),
  thousands of envs and 60-200M steps: for GPUs; on this CPU it would take hours or days.
- `auto`: `playground` on a GPU, `cpu` otherwise.

Importing this module is cheap (no JAX): the API uses `total_steps` and `estimate_seconds` directly. Only
`build_config(..., scene_id)` for the `playground` preset or a non-classic scene imports Playground.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from server.policies.manifest import NetworkConfig
from server.scenes.types import SceneFamily
from server.training.types import Device, JobSpec

PresetName = Literal["cpu_quick", "cpu", "playground"]

# Measured on this CPU (2 cores), steps per second of the whole training loop including evals, and the
# fixed cost of XLA compilation (the first and second evals each compile; docs/BENCHMARKS.md).
CPU_STEPS_PER_SECOND: dict[SceneFamily, float] = {
    "classic_control": 30_000.0,
    "locomotion": 2_000.0,
    "manipulation": 1_500.0,
}
CPU_COMPILE_SECONDS = 60.0
# Per scene, measured with scripts/measure_cpu_speed.py (docs/BENCHMARKS.md): (fixed seconds for loading
# and compiling, steady steps/s) of the `cpu` preset with the success check judged at every evaluation.
# Scenes not listed use their family's figures above.
CPU_SCENE_SPEED: dict[str, tuple[float, float]] = {
    # 2026-12-06, fitted to the evaluations of the behaviour suite's default jobs through `robocoach
    # train` (scripts/bench_behaviour.py; docs/BENCHMARKS.md), the machine otherwise idle unless noted.
    "CartpoleBalance": (70.0, 43_000.0),
    # 2026-12-07, fitted to whole rounds (job start to saved policy) of the suite, so the check at each
    # evaluation and the confirmation count: six swing-up rounds of 4.1M-6.2M steps took 218-300 s.
    "CartpoleSwingup": (110.0, 34_000.0),
    "PendulumSwingup": (60.0, 41_000.0),
    "AcrobotSwingup": (74.0, 45_000.0),
    "ReacherEasy": (175.0, 28_000.0),  # 2026-12-07, the same way: 4.1M steps 323 s, 6.2M 397 s
    "FingerSpin": (197.0, 13_600.0),  # a short test ran beside its first 2.5 minutes
    # 2026-12-06, the two rounds of the suite's cheetah-run-fast (fixed 148-197 s, 16.1-16.4k steps/s).
    "CheetahRun": (170.0, 16_200.0),
}
QUICK_COMPILE_SECONDS = 40.0
# Fine-tuning a base with a new reward (the fine-tune tier): this share of the preset's default steps, so
# the job (early stop by its success check ends it sooner) finishes within the estimate the planner shows.
# PROVISIONAL: a guess until fine-tune vs from-scratch time-to-pass is measured (docs/BENCHMARKS.md).
FINE_TUNE_FRACTION = 0.25
# The command tier trains nothing: the playback worker's first compile, a few seconds (PROVISIONAL).
COMMAND_SECONDS = 5.0
PLAYGROUND_STEPS = {"classic_control": 60_000_000, "locomotion": 100_000_000, "manipulation": 100_000_000}


@dataclass(frozen=True)
class PpoConfig:
    """Keyword arguments for `brax.training.agents.ppo.train`, plus the network it builds."""

    num_timesteps: int
    ppo: dict[str, Any]  # everything but the env, the network factory and the callbacks
    network: NetworkConfig
    preset: PresetName
    extras: dict[str, Any] = field(default_factory=dict)

    def flat(self) -> dict[str, float | int | bool | str]:
        """For the manifest's `training_config`: scalars only."""
        out: dict[str, float | int | bool | str] = {
            "preset": self.preset,
            "num_timesteps": self.num_timesteps,
        }
        for key, value in self.ppo.items():
            if isinstance(value, bool | int | float | str):
                out[key] = value
        return out


def resolve_preset(preset: str, device: Device) -> PresetName:
    if preset == "auto":
        return "playground" if device == "gpu" else "cpu"
    if preset in ("cpu_quick", "cpu", "playground"):
        return preset  # type: ignore[return-value]
    raise ValueError(f"unknown preset {preset!r}; available: auto, cpu_quick, cpu, playground")


# Per scene, the `cpu` preset's budget where the family's does not get the scene's task done (the
# behaviour suite, docs/BENCHMARKS.md). Early stop ends a job sooner once its check holds.
CPU_SCENE_STEPS: dict[str, int] = {
    # 2026-12-07: from scratch the swing-up's pole was up by 3.4M steps, but the cart kept hitting the
    # rail stop until 5.4M; rounds of 4.1M never passed their check, rounds of 6M did.
    "CartpoleSwingup": 6_000_000,
}


# Scenes whose own task the `cpu` preset has not learned on a 2-core CPU, measured (the behaviour suite and
# scripts/bench_sac.py, docs/BENCHMARKS.md): the planner says so beside the estimate instead of promising.
CPU_NOT_LEARNED: dict[str, str] = {
    "AcrobotSwingup": (
        "measured on a 2-core CPU, this budget has not learned the swing-up (Playground trains it for 100M "
        "steps, Brax SAC for 10M, hours on a CPU); a GPU or Modal runs that budget"
    ),
}


def default_steps(preset: PresetName, family: SceneFamily, scene_id: str | None = None) -> int:
    if preset == "cpu_quick":
        return 4_096
    if preset == "cpu" and scene_id in CPU_SCENE_STEPS:
        return CPU_SCENE_STEPS[scene_id]
    if preset == "cpu":
        # 4M is the budget benchmarked in docs/BENCHMARKS.md (eval >= 900 within 1.0-1.4 min, seeds 0-2);
        # a run's trajectory depends on its budget, and at 1M seeds 0 and 2 stayed below 900.
        return 4_000_000 if family == "classic_control" else 2_000_000
    return PLAYGROUND_STEPS[family]  # refined by build_config from Playground's per-env config


# A fine-tune starts from a policy that already works, with a critic that has yet to learn the new reward:
# full-size steps on the first, noisy advantages undo the base within an evaluation or two, and the
# entropy bonus shakes a precise policy loose. Smaller steps and a smaller bonus keep what the base knows.
FINE_TUNE_LEARNING_RATE_SCALE = 1 / 3
FINE_TUNE_ENTROPY_SCALE = 0.1


def for_fine_tune(config: PpoConfig) -> PpoConfig:
    """`config` as a fine-tune from a base runs it (gentler updates; the steps are the caller's)."""
    ppo = dict(config.ppo)
    ppo["learning_rate"] = float(ppo["learning_rate"]) * FINE_TUNE_LEARNING_RATE_SCALE
    ppo["entropy_cost"] = float(ppo["entropy_cost"]) * FINE_TUNE_ENTROPY_SCALE
    return dataclasses.replace(config, ppo=ppo)


def fine_tune_steps(preset: PresetName, family: SceneFamily, scene_id: str | None = None) -> int:
    """The fine-tune tier's budget: FINE_TUNE_FRACTION of the preset's default steps."""
    return max(1, int(default_steps(preset, family, scene_id) * FINE_TUNE_FRACTION))


def total_steps(spec: JobSpec, *, device: Device = "cpu", family: SceneFamily = "classic_control") -> int:
    """The steps a job asks for: its own `timesteps`, else its preset's (brax rounds up to whole epochs)."""
    if spec.timesteps is not None:
        return spec.timesteps
    return default_steps(resolve_preset(spec.preset, device), family, spec.scene_id)


def steps_brax_runs(num_timesteps: int, ppo: dict[str, Any]) -> int:
    """The environment steps `ppo.train(num_timesteps=..., **ppo)` really runs: brax rounds the budget up
    to whole training steps per evaluation epoch (a 400k budget can run 442k)."""
    if num_timesteps <= 0:
        return 0
    per_training_step = (
        int(ppo["batch_size"]) * int(ppo["unroll_length"]) * int(ppo["num_minibatches"])
    ) * int(ppo.get("action_repeat", 1))
    epochs = max(int(ppo.get("num_evals", 1)) - 1, 1) * max(int(ppo.get("num_resets_per_eval", 0)), 1)
    per_epoch = math.ceil(num_timesteps / (epochs * per_training_step))
    return epochs * per_epoch * per_training_step


def estimate_seconds(
    preset: str,
    *,
    family: SceneFamily = "classic_control",
    timesteps: int | None = None,
    scene_id: str | None = None,
) -> float:
    """Wall time of one job's whole budget on a 2-core CPU, for the UI: loading and compilation plus steps
    at the scene's measured speed (its family's when the scene was not measured). Early stop makes real
    jobs shorter."""
    name = resolve_preset(preset, "cpu")
    steps = timesteps if timesteps is not None else default_steps(name, family, scene_id)
    if name == "cpu_quick":
        return QUICK_COMPILE_SECONDS + steps / CPU_STEPS_PER_SECOND[family]
    if scene_id in CPU_SCENE_SPEED:
        fixed, rate = CPU_SCENE_SPEED[scene_id]
        return fixed + steps / rate
    # Playground's configs use ~100x the envs; per-step cost on CPU is about the same, so steps dominate.
    return CPU_COMPILE_SECONDS + steps / CPU_STEPS_PER_SECOND[family]


def duration_text(seconds: float) -> str:
    """An estimate for people: `about 84 seconds` (under 90 s: rounding 84 s to "a minute" undersold
    fine-tunes by 40%), `about 4 minutes`, `about 2.5 hours`."""
    if seconds < 90:
        count, unit = float(max(1, round(seconds))), "second"
    elif seconds < 3600:
        count, unit = float(round(seconds / 60)), "minute"
    else:
        count, unit = round(seconds / 3600, 1), "hour"
    return f"about {count:g} {unit}{'' if count == 1 else 's'}"


def _playground_rl_config(scene_id: str, family: SceneFamily) -> Any:
    from mujoco_playground.config import dm_control_suite_params, locomotion_params, manipulation_params

    module = {
        "classic_control": dm_control_suite_params,
        "locomotion": locomotion_params,
        "manipulation": manipulation_params,
    }[family]
    return module.brax_ppo_config(scene_id)


def _network(rl_config: Any | None, policy: list[int], value: list[int]) -> NetworkConfig:
    factory = dict(rl_config.get("network_factory", {})) if rl_config is not None else {}
    return NetworkConfig(
        policy_hidden_layer_sizes=[int(x) for x in factory.get("policy_hidden_layer_sizes", policy)],
        value_hidden_layer_sizes=[int(x) for x in factory.get("value_hidden_layer_sizes", value)],
        normalize_observations=True,
        policy_obs_key=str(factory.get("policy_obs_key", "state")),
        value_obs_key=str(factory.get("value_obs_key", "state")),
    )


def build_config(
    preset: PresetName,
    *,
    scene_id: str,
    family: SceneFamily,
    episode_length: int,
    timesteps: int | None = None,
) -> PpoConfig:
    """The full PPO config of a preset for one scene. `episode_length` is the env config's."""
    if preset == "playground":
        rl = _playground_rl_config(scene_id, family)
        ppo = {k: v for k, v in rl.to_dict().items() if k not in ("network_factory", "num_timesteps")}
        ppo.pop("num_eval_envs", None)
        network = _network(rl, [32] * 4, [256] * 5)
        return PpoConfig(int(timesteps or rl.num_timesteps), ppo, network, preset)
    # Both CPU presets: Playground's dm_control knobs with the CPU sizes measured in docs/BENCHMARKS.md.
    ppo = {
        "num_evals": 10,
        "reward_scaling": 10.0,
        "episode_length": episode_length,
        "normalize_observations": True,
        "action_repeat": 1,
        "discounting": 0.995,
        "entropy_cost": 1e-2,
        "learning_rate": 1e-3,
        "num_envs": 64,
        "batch_size": 32,
        "num_minibatches": 16,
        "unroll_length": 32,
        "num_updates_per_batch": 8,
        "num_resets_per_eval": 0,
        "num_eval_envs": 32,
    }
    # Observation keys (e.g. Go1's value net reads "privileged_state") must follow the scene's config.
    rl = None if family == "classic_control" else _playground_rl_config(scene_id, family)
    network = _network(rl, [32] * 4, [64] * 3)
    if rl is not None:
        ppo["discounting"] = float(rl.discounting)
        ppo["reward_scaling"] = float(rl.reward_scaling)
    if preset == "cpu_quick":
        # Seconds, not learning: tiny batches, short episodes, 2 evals (step 0 and the end).
        ppo |= {
            "num_evals": 2,
            "episode_length": min(episode_length, 100),
            "num_envs": 8,
            "batch_size": 8,
            "num_minibatches": 4,
            "unroll_length": 16,
            "num_updates_per_batch": 2,
            "num_eval_envs": 8,
            "learning_rate": 3e-4,
        }
        network = NetworkConfig(
            policy_hidden_layer_sizes=[16, 16],
            value_hidden_layer_sizes=[16, 16],
            normalize_observations=True,
            policy_obs_key=network.policy_obs_key,
            value_obs_key=network.value_obs_key,
        )
    steps = timesteps if timesteps is not None else default_steps(preset, family, scene_id)
    return PpoConfig(steps, ppo, network, preset)
