"""The inference worker: `python -m server.inference.worker POLICY_DIR SCENE_CACHE_DIR`. One per policy.

It loads the policy and its env, compiles the playback functions (before announcing itself ready), then
serves any number of browser sessions for that policy over stdin/stdout (server.inference.ipc). Each
session is one episode state; requests are answered in order, one at a time. For a live preview its
folder is a training job's live/ one: on "reload" it reads the folder again and swaps the newer params in
(`reload`), every session's episode going on with them.

The policy's reward program is model-written code, so this process starts like the training worker:
`server.sandbox.confine.confine` with the policy folder and the scene cache read-only and only XLA's
compile cache writable, no network, no core files, bounded address space.
Anything it prints goes to stderr (the API points it at a log file): stdout carries only frames.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import IO, Any

from server.commands.types import ScheduleReport
from server.inference import ipc
from server.inference.protocol import (
    Error,
    FrameError,
    PolicyUpdate,
    Reset,
    SetCommand,
    SetSchedule,
    Status,
    Step,
    decode_client,
    encode,
)
from server.policies.manifest import InvalidPolicy, PolicyManifest
from server.sandbox.confine import Confinement

_NOTE_CHARS = 400


def _private_stdout() -> IO[bytes]:
    """The IPC stream: a duplicate of fd 1; fd 1 itself then points at stderr so stray prints
    (from JAX, brax, or a reward program) cannot corrupt the frames."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


def schedule_note(report: ScheduleReport | None) -> str:
    """The reply to SetSchedule, for a person: what will play, and every value clipped into range."""
    if report is None or report.schedule is None:
        return "command schedule cleared"
    count = len(report.schedule.segments)
    ending = "then repeats" if report.schedule.repeat else "then holds the last command"
    note = f"command schedule set: {count} segment{'s' * (count != 1)}, {report.duration_s:g} s, {ending}"
    return "; ".join([note, *report.clipped])


def handle(session: Any, frame: bytes) -> bytes:
    """One client frame -> its encoded reply (empty for none); every failure becomes an Error."""
    seq: int | None = None
    try:
        message = decode_client(frame)
        if isinstance(message, Step):
            seq = message.seq
            return encode(session.step(message.seq, message.before, message.after))
        if isinstance(message, Reset):
            return encode(session.reset(message.seed, message.state))
        if isinstance(message, SetCommand):
            try:
                session.set_command(message.values)
            except ValueError as exc:
                return encode(Error(code="bad_command", message=str(exc)))
            return b""  # no reply: every Action carries the command in force
        if isinstance(message, SetSchedule):
            try:
                report = session.set_schedule(message.schedule)
            except ValueError as exc:
                return encode(Error(code="bad_command", message=str(exc)))
            return encode(Status(phase="ready", message=schedule_note(report)))
    except FrameError as exc:
        return encode(Error(code="bad_frame", message=str(exc)))
    except LookupError as exc:
        return encode(Error(code="no_episode", message=str(exc).strip("'\""), seq=seq))
    except (ValueError, ArithmeticError) as exc:
        return encode(Error(code="bad_state", message=str(exc), seq=seq))
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return encode(Error(code="internal", message=f"{type(exc).__name__}: {exc}"[:500], seq=seq))
    return encode(Error(code="bad_frame", message="unhandled message type"))


def evaluation_of(manifest: PolicyManifest) -> int:
    """Which evaluation a live/ manifest's params come from: its history's evaluations after training
    began (the step-0 one judges the untrained params, or a fine-tune's base, so it counts as 0)."""
    return sum(1 for progress in manifest.metrics_history if progress.step > 0)


def policy_update(manifest: PolicyManifest, note: str = "") -> PolicyUpdate:
    """What the params of `manifest` are, for the preview panel."""
    history = manifest.metrics_history
    last = history[-1] if history else None
    budget = manifest.training_config.get("num_timesteps", 0)
    total = last.total_steps if last is not None else int(budget) if isinstance(budget, int | float) else 0
    check = last.check if last is not None else None
    return PolicyUpdate(
        job_id=manifest.job_id or "",
        step=last.step if last is not None else 0,
        total_steps=total,
        evaluation=evaluation_of(manifest),
        eval_reward=last.eval_reward if last is not None else None,
        check_passed=check.passed if check is not None else None,
        check_score=check.score if check is not None else None,
        note=note[:_NOTE_CHARS],
    )


def _describe(manifest: PolicyManifest) -> str:
    history = manifest.metrics_history
    step = history[-1].step if history else 0
    return f"evaluation {evaluation_of(manifest)} (step {step:,})"


def reload(model: Any, playing: PolicyManifest, policy_dir: Path) -> tuple[PolicyManifest, PolicyUpdate]:
    """Read `policy_dir` again and play its params if they can replace the playing ones (same network,
    finite); else keep `playing`'s. Returns the manifest of the params now playing and the PolicyUpdate
    saying so (its note names a checkpoint that was skipped, and why)."""
    from server.inference.session import PlaybackError, load_settled

    what = "the newer checkpoint"
    try:
        manifest, params = load_settled(policy_dir)
        what = f"the checkpoint of {_describe(manifest)}"
        start = model.manifest
        if (manifest.scene_id, manifest.network, manifest.program) != (
            start.scene_id,
            start.network,
            start.program,
        ):
            raise PlaybackError("its scene, network or reward program is not the playing policy's")
        if manifest.params_sha256 != playing.params_sha256:
            model.swap_params(params)
    except (InvalidPolicy, PlaybackError) as exc:
        print(f"live preview: skipped {what}: {exc}", file=sys.stderr)
        return playing, policy_update(playing, note=f"skipped {what}: {exc}")
    return manifest, policy_update(manifest)


def serve(policy_dir: Path, scene_cache_dir: Path, channel: IO[bytes], requests: IO[bytes]) -> int:
    def send(session: int, frames: list[bytes]) -> None:
        channel.write(ipc.pack(ipc.FromWorker(session, frames)))
        channel.flush()

    import jax

    from server.inference.session import PlaybackError, PlaybackModel, PlaybackSession

    jax.config.update("jax_compilation_cache_dir", str(scene_cache_dir / "jax-compilation"))  # type: ignore[no-untyped-call]
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)  # type: ignore[no-untyped-call]
    try:
        model = PlaybackModel(policy_dir, scene_cache_dir)
        model.warm_up()
    except PlaybackError as exc:
        send(ipc.WORKER_SESSION, [encode(Error(code="internal", message=str(exc)))])
        return 3
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        message = f"cannot play this policy: {type(exc).__name__}: {exc}"[:1000]
        send(ipc.WORKER_SESSION, [encode(Error(code="internal", message=message))])
        return 3
    send(ipc.WORKER_SESSION, [encode(model.hello())])
    print(f"compiled: playback functions traced {model.traces} times", file=sys.stderr, flush=True)

    sessions: dict[int, PlaybackSession] = {}
    playing = model.manifest  # whose params play: the folder's at start, then each reload's
    while (body := ipc.read_blocking(requests)) is not None:
        request = ipc.decode_to_worker(body)
        if request.kind == "reload":
            playing, update = reload(model, playing, policy_dir)
            send(ipc.WORKER_SESSION, [encode(update)])
            # The proof of "no recompile" a test or a person reads in the log: the count does not grow.
            print(
                f"live preview: playing evaluation {update.evaluation} (step {update.step}); playback "
                f"functions traced {model.traces} times",
                file=sys.stderr,
                flush=True,
            )
        elif request.kind == "open":
            sessions[request.session] = PlaybackSession(model)
        elif request.kind == "close":
            sessions.pop(request.session, None)
        elif (session := sessions.get(request.session)) is not None:
            reply = handle(session, request.frame)
            send(request.session, [reply] if reply else [])
    return 0


def confinement(policy_dir: Path, cache_dir: Path) -> Confinement:
    """The policy and the scene cache read-only; only XLA's compile cache writable. JAX_PLATFORMS=cpu
    here (service.py), so the CPU limits apply."""
    return Confinement(read=(policy_dir, cache_dir), write=(cache_dir / "jax-compilation",))


def main(argv: list[str] | None = None) -> int:
    from server.sandbox.confine import confine

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m server.inference.worker POLICY_DIR SCENE_CACHE_DIR", file=sys.stderr)
        return 2
    policy_dir, cache_dir = Path(args[0]).resolve(), Path(args[1]).resolve()
    confine(confinement(policy_dir, cache_dir))  # the API stops it by closing stdin, or kills it
    channel = _private_stdout()
    return serve(Path(args[0]), Path(args[1]), channel, sys.stdin.buffer)


if __name__ == "__main__":
    sys.exit(main())
