"""Brax SAC on a scene PPO does not learn on 2 cores (issue 15: "measure Brax SAC and choose per scene").

    nice -n 10 .venv/bin/python scripts/bench_sac.py --task acrobot-swingup --minutes 25

Trains Brax SAC with Playground's own SAC config for the scene (mujoco_playground's
`dm_control_suite_params.brax_sac_config`: for the acrobot 10M steps, 128 envs, batch 512, 8 gradient
updates per step, learning rate 1e-3) on the scene's own Playground reward, loaded as the app loads it
for training (server/scenes/loader.py). The scene's own reward is the one that config was tuned for, so
this is SAC's best case, not the drafted reward. `--minutes` caps the wall time: training stops at the
first evaluation past it. The params of every evaluation are saved (brax's SAC checkpoints) and each is
judged afterwards by the behaviour suite's independent detector (scripts/bench_behaviour.py, the same
rollouts and starts as there), so the figures say what the policy does, not only its reward.

Prints one line per evaluation (steps, minutes, eval reward, the detector's figures) and a summary.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_behaviour import SUITE, Judge, judge


class _OutOfTime(Exception):  # noqa: N818 (a signal: stop training at the first evaluation past the cap)
    pass


class _SacAct:
    """Brax's deterministic SAC policy with the params as an argument (hashable: one rollout compile)."""

    def __init__(self, make_policy: Any) -> None:
        self.make_policy = make_policy

    def __hash__(self) -> int:
        return hash("sac")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SacAct)

    def __call__(self, params: Any, obs: Any) -> Any:
        import jax

        action, _ = self.make_policy(params, deterministic=True)(obs, jax.random.PRNGKey(0))
        return action


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--task", default="acrobot-swingup", help="a behaviour-suite task (its scene, its detector)"
    )
    parser.add_argument("--minutes", type=float, default=25.0, help="wall-time cap for training")
    parser.add_argument("--evals", type=int, default=20, help="evaluations over the config's budget")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    task = next((t for t in SUITE if t.name == args.task), None)
    if task is None:
        parser.error(f"no task {args.task!r}: {', '.join(t.name for t in SUITE)}")

    from brax.training import checkpoint as brax_checkpoint
    from brax.training.agents.sac import checkpoint
    from brax.training.agents.sac import networks as sac_networks
    from brax.training.agents.sac import train as sac
    from mujoco_playground import wrapper
    from mujoco_playground.config import dm_control_suite_params

    from server.scenes.loader import load_env

    config = dm_control_suite_params.brax_sac_config(task.scene)  # the app's ids are Playground's
    scene = load_env(task.scene, purpose="train", menagerie_dir=None)
    folder = Path(tempfile.mkdtemp(prefix="bench-sac-"))
    started = time.monotonic()
    evals: list[tuple[int, float, float]] = []  # steps, minutes, eval reward

    def progress(step: int, metrics: dict[str, Any]) -> None:
        minutes = (time.monotonic() - started) / 60
        reward = float(metrics.get("eval/episode_reward", float("nan")))
        evals.append((step, minutes, reward))
        print(f"  step {step:>9,}  {minutes:5.1f} min  eval reward {reward:8.1f}", flush=True)
        if minutes > args.minutes:
            raise _OutOfTime

    # A partial, not a lambda: brax records its keywords in each checkpoint's network config.
    factory = functools.partial(sac_networks.make_sac_networks, **config.network_factory.to_dict())
    accepted = inspect.signature(sac.train).parameters
    hyper = {
        k: v
        for k, v in config.to_dict().items()
        if k in accepted and k not in ("network_factory", "num_evals")
    }
    dropped = sorted(set(config.to_dict()) - set(hyper) - {"network_factory", "num_evals"})
    print(f"SAC on {task.scene} ({task.name}), Playground's config: {hyper}", flush=True)
    if dropped:  # Playground's config may name options this brax's SAC does not have
        print(f"  not in this brax's sac.train, left out: {', '.join(dropped)}", flush=True)
    try:
        sac.train(
            environment=scene.env,
            wrap_env_fn=wrapper.wrap_for_brax_training,
            network_factory=factory,
            num_evals=args.evals,
            progress_fn=progress,
            seed=args.seed,
            checkpoint_logdir=str(folder),
            **hyper,
        )
        stopped = "ran its whole budget"
    except _OutOfTime:
        stopped = f"stopped at the first evaluation past {args.minutes:g} minutes"
    print(f"training {stopped}; judging each saved evaluation with the suite's detector", flush=True)

    judge_ = Judge()
    steps = sorted((p for p in folder.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    at = {step: (minutes, reward) for step, minutes, reward in evals}
    passed_at: float | None = None
    if steps:  # one network for every checkpoint: one rollout compile
        network = brax_checkpoint.get_network(checkpoint.load_config(steps[0]), factory)
        act = _SacAct(sac_networks.make_inference_fn(network))
        for path in steps:
            step = int(path.name)
            minutes, reward = at.get(step, (float("nan"), float("nan")))
            verdict = judge(task, judge_.rollout_act(task.scene, act, checkpoint.load(path)))
            print(f"  step {step:>9,}  eval reward {reward:8.1f}  {verdict.summary}")
            if verdict.passed and passed_at is None:
                passed_at = minutes
    last = evals[-1] if evals else (0, 0.0, float("nan"))
    print(
        f"SUMMARY {task.name}: SAC, {last[0]:,} steps in {last[1]:.1f} min; "
        + (f"the detector first passed at {passed_at:.1f} min" if passed_at is not None else "never passed")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
