"""Measure each scene's CPU training speed with the app's default preset, for the time estimates
(server/training/presets.py, CPU_SCENE_SPEED) and docs/BENCHMARKS.md.

    .venv/bin/python scripts/measure_cpu_speed.py CartpoleBalance CheetahRun --minutes 3

Each scene trains with the `cpu` preset (its whole default budget, so evaluations come as often as in a
real job, success check included) until the time cap, in this process. From the evaluations' wall
clock it fits elapsed = fixed + steps / rate over evaluations 1..n (evaluation 0 comes before brax
compiles its training step): `fixed` is the loading and compilation a job pays once, `rate` the steady
environment steps per second including evaluations. Run it alone: other work on the cores slows it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# A check on every evaluation, as the app runs it (the built-in drafter's, for a plain task).
TASKS = {"Cartpole": "keep the pole upright", "Pendulum": "swing up and hold", "Cheetah": "run forward"}


def _task(scene_id: str) -> str:
    return next((task for prefix, task in TASKS.items() if scene_id.startswith(prefix)), "move forward")


def measure(scene_id: str, minutes: float, cache: Path) -> dict[str, float]:
    import jax

    from server.llm.builtin import draft_builtin, draft_builtin_check
    from server.rewards.context import RewardContext
    from server.rewards.vocabulary import build_entries, describe
    from server.scenes.loader import load_env
    from server.training.runner import train
    from server.training.types import JobSpec, TrainingProgress

    env = load_env(scene_id, purpose="check", menagerie_dir=None).env
    entries = build_entries(scene_id, env)
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    zeros = jax.numpy.zeros(env.action_size)
    vocabulary = describe(scene_id, entries, RewardContext(state.data, zeros, zeros, dict(state.info)))
    task = _task(scene_id)
    spec = JobSpec(
        scene_id=scene_id,
        program=draft_builtin(task, scene_id, vocabulary),
        check=draft_builtin_check(task, scene_id, vocabulary),
        preset="cpu",
        time_budget_s=minutes * 60,
        early_stop_evals=0,
    )
    points: list[TrainingProgress] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        train(spec, scene_cache_dir=cache, work_dir=Path(work), report=points.append)
    wall = time.monotonic() - started
    if len(points) < 3:
        raise SystemExit(f"{scene_id}: only {len(points)} evaluations in {minutes} min; raise --minutes")
    first, last = points[1], points[-1]
    rate = (last.step - first.step) / (last.elapsed_s - first.elapsed_s)
    fixed = first.elapsed_s - first.step / rate
    return {
        "fixed_s": fixed,
        "steps_per_s": rate,
        "evaluations": len(points),
        "total_steps": last.total_steps,
        "predicted_full_s": fixed + last.total_steps / rate,
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenes", nargs="+")
    parser.add_argument("--minutes", type=float, default=3.0, help="time cap per scene")
    args = parser.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as cache:
        for scene_id in args.scenes:
            figures = measure(scene_id, args.minutes, Path(cache))
            fixed, rate, evals = figures["fixed_s"], figures["steps_per_s"], figures["evaluations"]
            total, full = figures["total_steps"], figures["predicted_full_s"] / 60
            print(
                f"{scene_id}: fixed {fixed:.0f} s, {rate:,.0f} steps/s over {evals:.0f} evaluations; "
                f"full default budget ({total:,.0f} steps) predicted {full:.1f} min",
                flush=True,
            )


if __name__ == "__main__":
    main()
