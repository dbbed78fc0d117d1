"""Builds and verifies the base policies shipped with the app (`scenes/bases/<SceneId>/`, issue 11).

Each base is trained as the app's "Prepare a base policy" does (`prepare_base` in server/services.py: the
scene's own task, the built-in drafter's reward and success check, the app's default preset, through the
TrainingManager and the worker a user's job runs in), then copied beside the app with its provenance: this
command line, the preset and training config, the versions, the success check's verdict, the training
time and the machine.

    .venv/bin/python scripts/build_bases.py --scene CartpoleBalance [--scene ...]    # train and ship
    .venv/bin/python scripts/build_bases.py --verify                                # check what ships
    .venv/bin/python scripts/build_bases.py --scene CartpoleBalance --timesteps 4096 --preset cpu_quick \
        --out /tmp/bases --verify                                                   # a smoke run

`--verify` re-reads every base in --out: the params against the manifest's hash, then the success check
re-run on this computer's CPU (the same check, episodes and seed the job judged with), and prints its
figures beside the ones recorded when the base was built. A full build takes minutes to hours per scene
on a CPU: run it alone on the machine. Exit code 0 when every asked base was built (and verified).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.files import write_atomic  # noqa: E402
from server.policies.library import new_policy_id  # noqa: E402
from server.policies.manifest import (  # noqa: E402
    CLIP_FILE,
    MANIFEST_FILE,
    POLICY_FILES,
    BaseProvenance,
    InvalidPolicy,
    encode_manifest,
    read_checked,
)
from server.settings import SHIPPED_BASES_DIR, Settings, load_settings  # noqa: E402

TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}
CLIP_COMMAND = ".venv/bin/python -m server.policies.clip"  # renders the clip of a base that has none


def machine_description(device: str, device_name: str, backend: str) -> str:
    where = "Modal" if backend == "modal" else platform.node() or "this computer"
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, trained on {device} "
        f"({device_name}) via {backend} backend on {where}"
    )


def ship(folder: Path, out_dir: Path, provenance: BaseProvenance) -> Path:
    """Copies a library policy folder to `out_dir/<SceneId>/` as a shipped base (replacing an older one),
    with its clip when the job made one: staged beside it, then renamed, so a reader never sees half a
    base."""
    manifest = read_checked(folder)
    # A fresh id: the shipped base never shares one with the policy it was copied from.
    manifest = msgspec.structs.replace(
        manifest, policy_id=new_policy_id(), is_base=True, provenance=provenance, job_id=None
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    shutil.copyfile(folder / POLICY_FILES[0], staging / POLICY_FILES[0])
    if (folder / CLIP_FILE).is_file():
        shutil.copyfile(folder / CLIP_FILE, staging / CLIP_FILE)
    write_atomic(staging / MANIFEST_FILE, encode_manifest(manifest))
    read_checked(staging)  # the copy matches its hash
    target = out_dir / manifest.scene_id
    if target.exists():
        old = out_dir / f".old-{uuid.uuid4().hex}"
        target.rename(old)
        shutil.rmtree(old)
    staging.rename(target)
    return target


async def build_one(settings: Settings, args: argparse.Namespace, scene_id: str, command: str) -> Path | None:
    """Trains one base as the app does and ships it; None after saying why it could not."""
    from server.scenes.registry import SceneFailedError, UnknownScene
    from server.services import Services, prepare_base

    services = Services.open(settings, auto_resume=False)
    services.start()
    try:
        try:
            await services.scenes.get(scene_id)
        except (UnknownScene, SceneFailedError) as exc:
            print(f"{scene_id}: {exc}", file=sys.stderr)
            return None
        services.scenes.cancel_pending()  # the other scenes' exports would slow training down
        started = time.monotonic()
        job = await prepare_base(
            services, scene_id, preset=args.preset, timesteps=args.timesteps, seed=args.seed
        )
        manager = services.training
        print(f"{scene_id}: training job {job.job_id} on {job.device} ({job.backend})", file=sys.stderr)
        status = job
        last_step = -1
        async for status in manager.watch(job.job_id):
            if status.progress is not None and status.progress.step != last_step:
                last_step = status.progress.step
                reward = status.progress.eval_reward
                check = status.progress.check.summary if status.progress.check else "no check"
                print(f"{scene_id}: step {last_step}/{status.progress.total_steps} eval {reward} {check}")
            if status.state in TERMINAL:
                break
        status = manager.status(job.job_id)
        if status.state != "succeeded" or status.policy_id is None:
            print(f"{scene_id}: training {status.state}: {status.error}", file=sys.stderr)
            return None
        seconds = (
            (status.finished_at - status.started_at).total_seconds()
            if status.finished_at is not None and status.started_at is not None
            else time.monotonic() - started
        )
        folder = manager.policies.folder(status.policy_id)
        manifest = read_checked(folder)
        report = manager.device_report
        provenance = BaseProvenance(
            command=command,
            preset=str(manifest.training_config.get("preset", args.preset)),
            training_config={**manifest.training_config, "seed": args.seed},
            versions=manifest.versions,
            check=manifest.outcome.check if manifest.outcome is not None else None,
            training_s=round(seconds, 1),
            machine=machine_description(status.device, report.name, status.backend),
            built_at=datetime.now(UTC),
        )
        target = ship(folder, args.out, provenance)
        if not (target / CLIP_FILE).is_file():  # e.g. trained on Modal, whose job folder brings none back
            from server.policies.clip import clip_folder

            clip_folder(target, settings.cache_dir)
        verdict = provenance.check.summary if provenance.check is not None else "no check"
        print(f"{scene_id}: shipped {target} in {seconds:.0f} s of training; check {verdict}")
        if provenance.check is not None and not provenance.check.passed:
            print(f"{scene_id}: WARNING: the base fails its own success check; a bigger budget may be needed")
        return target
    finally:
        await services.close()


def verify(out_dir: Path, cache_dir: Path) -> bool:
    """Every base in `out_dir`: files, hash, provenance, and its check re-run here. True when all hold."""
    folders = (
        sorted(p for p in out_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        if out_dir.is_dir()
        else []
    )
    if not folders:
        print(f"no bases in {out_dir}")
        return True
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # re-judging runs here, on the CPU, before JAX imports
    from server.training.runner import judge_saved_policy

    ok = True
    for folder in folders:
        try:
            manifest = read_checked(folder)
        except InvalidPolicy as exc:
            print(f"{folder.name}: DAMAGED: {exc}")
            ok = False
            continue
        problems = []
        if manifest.scene_id != folder.name:
            problems.append(f"the folder is named {folder.name} but the base is for {manifest.scene_id}")
        if not manifest.is_base or manifest.provenance is None:
            problems.append("not marked a base, or without provenance")
        if problems:
            print(f"{folder.name}: INVALID: {'; '.join(problems)}")
            ok = False
            continue
        provenance = manifest.provenance
        assert provenance is not None
        seed = int(provenance.training_config.get("seed", 0))
        started = time.monotonic()
        result = judge_saved_policy(folder, cache_dir, seed)  # the same starts as its job's verdict
        took = time.monotonic() - started
        print(f"{folder.name}: params hash ok; trained {provenance.training_s:.0f} s on {provenance.machine}")
        clip = folder / CLIP_FILE
        print(
            f"  clip: {clip.stat().st_size} bytes"
            if clip.is_file()
            else f"  clip: none ({CLIP_COMMAND} {folder})"
        )
        print(f"  built with: {provenance.command}")
        recorded = provenance.check
        print(f"  check when built: {recorded.summary if recorded else 'none'}")
        if result is None:
            print("  check now: none (the base has no success check)")
            continue
        print(f"  check now ({took:.0f} s on this CPU): {result.summary}")
        for figure in result.figures:
            print(
                f"    {figure.name}: mean {figure.mean:.4g}, worst {figure.worst:.4g}, "
                f"met in {figure.met}/{result.episodes} episodes"
            )
        if recorded is not None and recorded.passed and not result.passed:
            print("  MISMATCH: the base passed its check when built and fails it now")
            ok = False
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", action="append", default=[], help="a scene to build a base for (repeat)")
    parser.add_argument("--out", type=Path, default=SHIPPED_BASES_DIR, help="where the bases go")
    parser.add_argument("--verify", action="store_true", help="check every base in --out afterwards")
    parser.add_argument("--preset", default="auto", choices=["auto", "cpu_quick", "cpu", "playground"])
    parser.add_argument("--timesteps", type=int, default=None, help="default: the preset's (smoke runs only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the training data folder (default: a fresh temporary one)",
    )
    args = parser.parse_args(argv)
    if not args.scene and not args.verify:
        parser.error("give --scene SCENE (repeatable) and/or --verify")
    command = shlex.join(["scripts/build_bases.py", *(sys.argv[1:] if argv is None else argv)])
    with tempfile.TemporaryDirectory(prefix="robocoach-bases-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        settings = msgspec.structs.replace(load_settings(data_dir=data_dir), bases_dir=args.out)
        built = True
        for scene_id in args.scene:
            if asyncio.run(build_one(settings, args, scene_id, command)) is None:
                built = False
        verified = verify(args.out, settings.cache_dir) if args.verify else True
    return 0 if built and verified else 1


if __name__ == "__main__":
    raise SystemExit(main())
