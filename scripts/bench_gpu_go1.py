"""GPU benchmark: Go1JoystickFlatTerrain with Playground's own PPO config, two ways in the same run.

1. Robocoach's local-GPU backend: a TrainingManager job (preset "playground", the reward program in
   --program, e.g. one drafted in the app for "walk following the joystick") in a worker process, as the
   UI starts it. Its curve is the scene's own reward over the same evaluation episodes (`task_reward`),
   so the two runs are compared on the same measure.
2. Playground's own training, called directly: `brax.training.agents.ppo.train` with
   `locomotion_params.brax_ppo_config("Go1JoystickFlatTerrain")` on `registry.load(...)`.

For each: wall time to the first evaluation at or above Playground's reported reward level (--target),
final reward, and environment steps per second measured on the wall clock. Needs an NVIDIA GPU and
`uv sync --extra cuda`. NOT RUN on the development machines (no GPU); see docs/BENCHMARKS.md.

    .venv/bin/python scripts/bench_gpu_go1.py --program go1.py --target 30 [--timesteps 200000000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCENE = "Go1JoystickFlatTerrain"


def _first_at(history: list[tuple[float, int, float]], target: float) -> tuple[float, int] | None:
    return next(((t, step) for t, step, reward in history if reward >= target), None)


async def via_backend(
    program: str, timesteps: int | None, data_dir: Path, cache_dir: Path
) -> list[tuple[float, int, float]]:
    import msgspec

    from server.settings import load_settings
    from server.storage.database import Database
    from server.training.manager import TrainingManager
    from server.training.types import JobSpec

    settings = msgspec.structs.replace(load_settings(data_dir=data_dir), cache_dir=cache_dir)
    manager = TrainingManager(settings, Database(settings.database_path))
    manager.start()
    report = await manager.probe()
    print(f"local backend device: {report.device} ({report.reason})")
    if report.device != "gpu":
        raise SystemExit("no CUDA device visible to JAX: install `uv sync --extra cuda` on a GPU machine")
    started = time.monotonic()
    job = manager.submit(
        JobSpec(scene_id=SCENE, program=program, preset="playground", timesteps=timesteps), "local"
    )
    history: list[tuple[float, int, float]] = []
    async for status in manager.watch(job.job_id):
        if status.progress and status.progress.task_reward is not None:
            point = (time.monotonic() - started, status.progress.step, status.progress.task_reward)
            if not history or history[-1][1] != point[1]:
                history.append(point)
                print(f"backend: {point[0]:.0f} s step {point[1]} reward {point[2]:.2f}")
    print("backend final state:", manager.status(job.job_id).state, manager.status(job.job_id).error or "")
    await manager.close()
    return history


def via_playground(timesteps: int | None) -> list[tuple[float, int, float]]:
    import functools

    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import train as ppo
    from mujoco_playground import registry, wrapper
    from mujoco_playground.config import locomotion_params

    from server.scenes.compat import patch_playground_compat
    from server.scenes.menagerie import prepare_menagerie, use_menagerie

    patch_playground_compat()
    use_menagerie(prepare_menagerie(Path(tempfile.gettempdir()) / "robocoach-bench-menagerie"))
    env = registry.load(SCENE)
    config = locomotion_params.brax_ppo_config(SCENE)
    kwargs: dict[str, Any] = dict(config)
    network = kwargs.pop("network_factory")
    if timesteps is not None:
        kwargs["num_timesteps"] = timesteps
    started = time.monotonic()
    history: list[tuple[float, int, float]] = []

    def progress(step: int, metrics: Any) -> None:
        history.append((time.monotonic() - started, int(step), float(metrics["eval/episode_reward"])))
        print(f"playground: {history[-1][0]:.0f} s step {step} reward {history[-1][2]:.2f}")

    ppo.train(
        environment=env,
        eval_env=registry.load(SCENE),
        wrap_env_fn=wrapper.wrap_for_brax_training,
        network_factory=functools.partial(ppo_networks.make_ppo_networks, **network),
        progress_fn=progress,
        **kwargs,
    )
    return history


def summarise(name: str, history: list[tuple[float, int, float]], target: float) -> None:
    if not history:
        print(f"{name}: no evaluations")
        return
    reached = _first_at(history, target)
    wall, steps = history[-1][0], history[-1][1]
    rate = (steps - history[0][1]) / (wall - history[0][0]) if wall > history[0][0] else float("nan")
    when = f"{reached[0]:.0f} s (step {reached[1]})" if reached else "not reached"
    print(f"{name}: reward >= {target} at {when}; final {history[-1][2]:.2f} at {wall:.0f} s; "
          f"{rate:,.0f} env steps/s after the first eval")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=float, required=True, help="Playground's reported reward level")
    parser.add_argument("--program", type=Path, required=True, help="a reward program file for Go1")
    parser.add_argument("--timesteps", type=int, default=None, help="default: Playground's config")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-go1-") as tmp:
        backend = asyncio.run(
            via_backend(args.program.read_text(), args.timesteps, Path(tmp) / "data", Path(tmp) / "cache")
        )
    playground = via_playground(args.timesteps)
    summarise("Robocoach local-GPU backend", backend, args.target)
    summarise("Playground's own training", playground, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
