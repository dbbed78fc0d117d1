"""Training benchmarks on this machine (CPU): run `.venv/bin/python scripts/bench_training.py`.

(a) time-to-reward: CartpoleBalance with a reward program equal to the scene's own reward, the preset the
    app picks (`auto`), until the deterministic eval reward reaches 900; wall-clock minutes per seed.
(b) overhead of our path (RewardEnv + progress/checkpoint callbacks) against `ppo.train` on the raw env
    with the same config, in the same process: ratio of steps/s after the first eval.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.training.types import JobSpec, TrainingProgress

SCENE = "CartpoleBalance"
TARGET = 900.0
# Playground's `_dense_reward` for Cartpole written as a program (dm_control tolerance semantics).
TASK_PROGRAM = '''"""CartpoleBalance's own reward."""

WEIGHTS = dict(task=1.0)


def task(s):
    upright = (jnp.cos(s.pole_angle) + 1.0) / 2.0
    centered = (1.0 + tolerance(s.cart_position, 0.0, 0.0, 2.0)) / 2.0
    small_control = (4.0 + jnp.maximum(1.0 - jnp.square(s.action[0]), 0.0)) / 5.0
    small_velocity = (1.0 + tolerance(s.pole_angular_velocity, 0.0, 0.0, 5.0)) / 2.0
    return upright * centered * small_control * small_velocity
'''


class _Reached(Exception):  # noqa: N818 (a signal: stop the run once the target is reached)
    pass


class _OutOfTime(Exception):  # noqa: N818 (a signal: stop the run once it is past --max-minutes)
    pass


def time_to_reward(
    seed: int, max_steps: int, cache: Path, max_minutes: float | None = None
) -> tuple[float | None, int, float, float]:
    """(wall minutes to eval >= TARGET or None, steps, last eval reward, last |program - task| gap)."""
    from server.training.runner import train

    started = time.monotonic()
    last: list[TrainingProgress] = []

    def report(progress: TrainingProgress) -> None:
        last.append(progress)
        print(
            f"  seed {seed}: step {progress.step} eval {progress.eval_reward:.1f} "
            f"task {progress.task_reward:.1f} sps {progress.steps_per_second:.0f}",
            flush=True,
        )
        if progress.eval_reward is not None and progress.eval_reward >= TARGET:
            raise _Reached
        if max_minutes is not None and (time.monotonic() - started) / 60 > max_minutes:
            raise _OutOfTime

    spec = JobSpec(scene_id=SCENE, program=TASK_PROGRAM, preset="auto", seed=seed, timesteps=max_steps)
    with tempfile.TemporaryDirectory() as work:
        try:
            train(spec, scene_cache_dir=cache, work_dir=Path(work), report=report)
            minutes = None
        except _OutOfTime:
            minutes = None
        except _Reached:
            minutes = (time.monotonic() - started) / 60
    p = last[-1]
    gap = abs((p.eval_reward or 0.0) - (p.task_reward or 0.0))
    return minutes, p.step, p.eval_reward or 0.0, gap


def overhead(steps: int, cache: Path) -> tuple[float, float]:
    """(steps/s of our train(), steps/s of ppo.train on the raw env), both after their first eval."""
    from brax.training.agents.ppo import train as ppo
    from mujoco_playground import wrapper

    from server.policies.networks import network_factory
    from server.training.presets import build_config
    from server.training.runner import load_scene, train

    ours: list[float] = []
    spec = JobSpec(scene_id=SCENE, program=TASK_PROGRAM, preset="cpu", timesteps=steps)
    with tempfile.TemporaryDirectory() as work:
        train(
            spec, scene_cache_dir=cache, work_dir=Path(work), report=lambda p: ours.append(p.steps_per_second)
        )

    scene = load_scene(SCENE, cache)
    config = build_config(
        "cpu", scene_id=SCENE, family=scene.family, episode_length=scene.episode_length, timesteps=steps
    )
    marks: list[tuple[float, int]] = []

    def progress(step: int, metrics: Any) -> None:
        marks.append((time.monotonic(), step))

    ppo.train(
        environment=scene.env,
        num_timesteps=steps,
        wrap_env_fn=wrapper.wrap_for_brax_training,
        network_factory=network_factory(config.network),
        seed=0,
        deterministic_eval=True,
        progress_fn=progress,
        **config.ppo,
    )
    (t0, s0), (t1, s1) = marks[0], marks[-1]
    return ours[-1], (s1 - s0) / (t1 - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-steps", type=int, default=1_500_000)
    parser.add_argument("--overhead-steps", type=int, default=400_000, help="0 skips (b)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop a seed's run past this")
    args = parser.parse_args()
    cache = Path(tempfile.gettempdir()) / "robocoach-bench-cache"
    results = []
    for seed in args.seeds:
        results.append((seed, *time_to_reward(seed, args.max_steps, cache, args.max_minutes)))
    print("\n(a) CartpoleBalance, task-equal program, preset auto (cpu), deterministic eval >= 900:")
    for seed, minutes, step, reward, gap in results:
        got = f"{minutes:.2f} min" if minutes is not None else "not reached"
        print(f"  seed {seed}: {got} at {step} steps (eval {reward:.1f}; |program - task| {gap:.3f})")
    if args.overhead_steps > 0:
        ours, direct = overhead(args.overhead_steps, cache)
        print(f"(b) steps/s: ours {ours:.0f}, ppo.train direct {direct:.0f}, ratio {ours / direct:.3f}")


if __name__ == "__main__":
    main()
