"""The live Modal check, for a person with a Modal account (it cannot run on machines without internet):

    .venv/bin/python -m server.training.modal_check [--scene CartpoleBalance] [--timesteps 200000]

Deploys the app (image built from uv.lock's pins), spawns one real training job on an H100 through the
same `ModalBackend` the app uses, prints every progress point as it streams back from the Volume, and
checks that the policy arrives in a temporary data directory and loads. Exit 0 when it did.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

PROGRAM = '''"""Keep the pole up."""
WEIGHTS = dict(upright=1.0)


def upright(s):
    return jnp.cos(s.pole_angle)
'''


async def _check(scene: str, timesteps: int, data_dir: Path) -> int:
    from server.settings import load_settings
    from server.storage.database import Database
    from server.training.manager import TrainingManager
    from server.training.settings import TrainingSettings
    from server.training.types import JobSpec

    settings = load_settings(data_dir=data_dir)
    manager = TrainingManager(settings, Database(settings.database_path), device="cpu")
    manager.apply_settings(TrainingSettings(backend="modal", modal_max_concurrent=1))
    manager.start()
    spec = JobSpec(scene_id=scene, program=PROGRAM, preset="playground", timesteps=timesteps)
    job = manager.submit(spec, "modal")
    async for status in manager.watch(job.job_id):
        if status.progress is not None:
            p = status.progress
            rate = f"{p.steps_per_second:.0f} steps/s"
            print(f"{status.state}: step {p.step}/{p.total_steps} reward {p.eval_reward} {rate}")
        else:
            print(status.state, status.error or "")
    status = manager.status(job.job_id)
    await manager.close()
    print(f"final: {status.state} {status.error or ''} policy {status.policy_id}")
    if status.state != "succeeded":
        return 1
    from server.policies.params import load_policy

    manifest, _params = load_policy(manager.policies.folder(str(status.policy_id)))
    print(f"policy loaded: {manifest.scene_id}, trained with {manifest.versions}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Train one job on Modal and follow it live.")
    parser.add_argument("--scene", default="CartpoleBalance")
    parser.add_argument("--timesteps", type=int, default=2_000_000)
    args = parser.parse_args()
    from server.training.modal_backend import modal_configured

    configured, detail = modal_configured()
    print(f"Modal configured: {configured} ({detail})")
    if not configured:
        return 2
    with tempfile.TemporaryDirectory(prefix="robocoach-modal-check-") as tmp:
        return asyncio.run(_check(args.scene, args.timesteps, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
