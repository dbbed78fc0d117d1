"""API-side reward checking: static checks in process, trace checks in one long-lived worker process.

Never imports JAX (a test checks `sys.modules`). The worker is started with `python -m
server.rewards.trace_worker` (from the frozen app, its own executable: server/workers.py) and an
environment built from an allow-list (server/sandbox), so API keys and tokens in the API process never
reach model-written code. A fresh interpreter via subprocess is the "spawn" model with one difference
that matters here: multiprocessing's spawn copies the parent's whole `os.environ` and offers no way to
pass another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from server.checks.types import CheckResult
from server.files import sha256_bytes, write_atomic
from server.policies.manifest import MANIFEST_FILE, PARAMS_FILE
from server.rewards.protocol import (
    HEADER_BYTES,
    EnvKeys,
    Evaluate,
    GetVocabulary,
    JudgeBase,
    PolicyFiles,
    Prepare,
    Probe,
    Reply,
    Request,
    Sleep,
    Validate,
    ValidateCheck,
    header_size,
    pack,
)
from server.rewards.static_check import check_check, static_check
from server.rewards.types import PrepareStatus, ProgramError, ValidationReport, Vocabulary
from server.sandbox.environment import worker_env
from server.sandbox.escape import Attempt
from server.scenes.menagerie import MenagerieError, prepare_menagerie
from server.scenes.registry import UnknownScene, cache_key
from server.workers import TRACE_WORKER, WorkerStartError, last_error_line, spawn_worker, worker_name

log = logging.getLogger(__name__)
T = TypeVar("T")

VOCABULARY_FORMAT = 2  # bump when vocabulary.py or families.py change what they produce (2: `command`)
_SCENE_ID = re.compile(r"^[A-Za-z0-9_]{1,100}$")


class RewardWorkerError(RuntimeError):
    """The worker died, timed out or failed outside the program's control (not a program error)."""


def _policy_files(folder: Path) -> PolicyFiles:
    try:
        return PolicyFiles((folder / MANIFEST_FILE).read_bytes(), (folder / PARAMS_FILE).read_bytes())
    except OSError as exc:
        raise RewardWorkerError(f"cannot read the base policy in {folder}: {exc.strerror}") from exc


class _Process:
    """One running worker: its pipes, and the scenes it has prepared (a fresh process has none)."""

    def __init__(self, proc: asyncio.subprocess.Process, log_file: Any) -> None:
        self.proc = proc
        self.log_file = log_file
        self.prepared: dict[str, PrepareStatus] = {}

    async def read_reply(self) -> Reply:
        assert self.proc.stdout is not None
        header = await self.proc.stdout.readexactly(HEADER_BYTES)
        body = await self.proc.stdout.readexactly(header_size(header))
        return msgspec.msgpack.decode(body, type=Reply)

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()  # by our own child's pid, never by name
        self.log_file.close()


class RewardChecker:
    """Validates reward programs and lists vocabularies. Create in the app's lifespan; `await close()`.

    `timeout_s` bounds one request including a first-time scene load (reset and step are compiled then,
    ~30 s for Go1 on 2 cores); `start_timeout_s` bounds the worker's import of JAX and Playground.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        timeout_s: float = 240.0,
        start_timeout_s: float = 120.0,
        test_hooks: bool = False,
    ) -> None:
        self.cache_dir = cache_dir
        self.vocabulary_dir = (
            cache_dir / "rewards" / sha256_bytes(f"{cache_key()}-{VOCABULARY_FORMAT}".encode())[:16]
        )
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.test_hooks = test_hooks
        self.calls: Counter[str] = Counter()  # requests sent to the worker, by kind (tests read this)
        self.starts = 0
        self.last_start_s = 0.0
        self._process: _Process | None = None
        self._lock = asyncio.Lock()
        self._vocabularies: dict[str, Vocabulary] = {}
        # Preparations under way or failed, by scene (those done live on the worker process that did them).
        self._preparing: dict[str, tuple[float, asyncio.Task[None]]] = {}
        self._failed: dict[str, PrepareStatus] = {}
        self._current: Request | None = None  # the request the worker is answering now

    # ---- public API -----------------------------------------------------------------------------
    async def validate(self, scene_id: str, source: str) -> ValidationReport:
        """Static check in process; the trace check in the worker only if that passes."""
        vocabulary = await self.vocabulary(scene_id)
        report = static_check(
            source,
            {entry.name for entry in vocabulary.entries},
            {entry.name: entry.shape for entry in vocabulary.entries},
        )
        if not report.ok:
            return report
        try:
            return await self._call(Validate(scene_id, source), ValidationReport)
        except RewardWorkerError as exc:
            error = ProgramError(line=0, column=0, message=f"the trace check failed: {exc}", stage="trace")
            return ValidationReport(ok=False, errors=[error], terms=report.terms)

    async def validate_check(self, scene_id: str, source: str) -> ValidationReport:
        """A success check (docs/CHECKS.md): static check here, then the worker judges it on real rollouts."""
        vocabulary = await self.vocabulary(scene_id)
        report, _ = check_check(
            source,
            {entry.name for entry in vocabulary.entries},
            {entry.name: entry.shape for entry in vocabulary.entries},
        )
        if not report.ok:
            return report
        try:
            return await self._call(ValidateCheck(scene_id, source), ValidationReport)
        except RewardWorkerError as exc:
            error = ProgramError(line=0, column=0, message=f"the trace check failed: {exc}", stage="trace")
            return ValidationReport(ok=False, errors=[error], terms=[], figures=report.figures)

    async def judge_base(self, scene_id: str, source: str, folder: Path) -> CheckResult:
        """A valid check's verdict on deterministic rollouts of the base policy saved in `folder`. Its
        files are read here and sent (the worker reads no policy folder; it checks them as a saved
        policy's are). RewardWorkerError when it cannot be judged: files unreadable, a worker failure."""
        return await self._call(JudgeBase(scene_id, source, _policy_files(folder)), CheckResult)

    async def vocabulary(self, scene_id: str) -> Vocabulary:
        """The scene's vocabulary, from memory, the JSON cache, or the worker (which then caches it)."""
        if not _SCENE_ID.match(scene_id):
            raise UnknownScene(scene_id, [])
        if scene_id in self._vocabularies:
            return self._vocabularies[scene_id]
        path = self.vocabulary_dir / f"{scene_id}.json"
        try:
            vocabulary = msgspec.json.decode(path.read_bytes(), type=Vocabulary)
        except (OSError, msgspec.DecodeError):
            vocabulary = await self._call(GetVocabulary(scene_id), Vocabulary)
            write_atomic(path, msgspec.json.encode(vocabulary))
        self._vocabularies[scene_id] = vocabulary
        return vocabulary

    async def evaluate(
        self, scene_id: str, source: str, overrides: list[dict[str, Any]]
    ) -> list[dict[str, float]]:
        """Each term's value and the weighted `total` on the reset state, once per override set
        (`{"base_lin_vel": [-0.5, 0, 0]}` replaces that entry). For previews and the drafter's tests."""
        return await self._call(Evaluate(scene_id, source, overrides), list[dict[str, float]])

    # ---- preparing a scene's checks ahead of the first draft --------------------------------------
    def prepare(self, scene_id: str, base: Path | None = None) -> PrepareStatus:
        """Start preparing `scene_id`'s checks in the background unless that is done or under way (a
        failed preparation is tried again); the status now. Cheap and idempotent. `base`: the folder of the
        base policy a draft's check will be judged on (judge_base), rolled out too."""
        if not _SCENE_ID.match(scene_id):
            raise UnknownScene(scene_id, [])
        # The person moved on: preparations of other scenes still waiting for the worker are dropped, so
        # this scene's draft never queues behind them (one the worker is running finishes; stopping it
        # would kill the worker and every scene it holds).
        for other, (_, task) in list(self._preparing.items()):
            if other != scene_id and getattr(self._current, "scene_id", None) != other:
                task.cancel()
                del self._preparing[other]
        status = self.prepare_status(scene_id)
        if status.state in ("preparing", "prepared"):
            return status
        self._failed.pop(scene_id, None)
        task = asyncio.get_running_loop().create_task(self._prepare(scene_id, base))
        self._preparing[scene_id] = (time.perf_counter(), task)
        return PrepareStatus(scene_id=scene_id, state="preparing", seconds=0.0)

    def prepare_status(self, scene_id: str) -> PrepareStatus:
        """Prepared, preparing, failed, or idle (not asked for since this worker started)."""
        process = self._process
        if process is not None and process.proc.returncode is None and scene_id in process.prepared:
            return process.prepared[scene_id]
        if scene_id in self._preparing:
            since, _ = self._preparing[scene_id]
            return PrepareStatus(scene_id=scene_id, state="preparing", seconds=time.perf_counter() - since)
        if scene_id in self._failed:
            return self._failed[scene_id]
        return PrepareStatus(scene_id=scene_id, state="idle", seconds=0.0)

    async def wait_prepared(self, scene_id: str) -> PrepareStatus:
        """The status once the preparation under way (if any) has ended."""
        if scene_id in self._preparing:
            await asyncio.wait([self._preparing[scene_id][1]])  # a cancelled one reads as idle
        return self.prepare_status(scene_id)

    async def _prepare(self, scene_id: str, base: Path | None) -> None:
        since = time.perf_counter()
        try:
            files = _policy_files(base) if base is not None else None
        except RewardWorkerError as exc:  # the draft's judge_base will say so; the rest is still needed
            log.warning("preparing %s without its base: %s", scene_id, exc)
            files = None
        try:
            await self.vocabulary(scene_id)  # written to the JSON cache on the way, as a draft would
            phases: dict[str, float] = await self._call(Prepare(scene_id, files), dict[str, float])
        except asyncio.CancelledError:
            raise
        except UnknownScene:
            error = f"unknown scene {scene_id!r}"
        except Exception as exc:  # a worker that cannot start or load the scene: the status says why
            log.warning("preparing %s for reward checks failed: %s", scene_id, exc)
            error = str(exc) or type(exc).__name__
        else:
            seconds = time.perf_counter() - since
            log.info("reward checks for %s prepared in %.1f s %s", scene_id, seconds, phases)
            if self._process is not None:  # the process that answered (a restart may have replaced one)
                self._process.prepared[scene_id] = PrepareStatus(
                    scene_id=scene_id, state="prepared", seconds=seconds, phases=phases
                )
            return
        finally:
            if self._preparing.get(scene_id, (0.0, None))[1] is asyncio.current_task():
                del self._preparing[scene_id]
        self._failed[scene_id] = PrepareStatus(
            scene_id=scene_id, state="failed", seconds=time.perf_counter() - since, error=error
        )

    async def close(self) -> None:
        tasks = [task for _, task in self._preparing.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # gone before the loop closes
        async with self._lock:
            process = self._process
            self._kill()
            if process is not None:
                await process.proc.wait()  # reap it while the event loop is still open

    # ---- test hooks (the worker refuses them unless started with test_hooks=True) ----------------
    async def worker_env_keys(self) -> list[str]:
        return await self._call(EnvKeys(), list[str])

    async def worker_probe(self, attempts: list[Attempt]) -> dict[str, str]:
        return await self._call(Probe(attempts), dict[str, str])

    async def worker_sleep(self, seconds: float, timeout_s: float) -> None:
        await self._call(Sleep(seconds), type(None), timeout_s=timeout_s)

    @property
    def worker_pid(self) -> int | None:
        return self._process.proc.pid if self._process is not None else None

    # ---- worker management ----------------------------------------------------------------------
    async def _start(self) -> _Process:
        try:
            menagerie = prepare_menagerie(self.cache_dir)
        except MenagerieError as exc:  # classic-control scenes still work without the asset wheels
            log.warning("reward worker without Menagerie: %s", exc)
            menagerie = self.cache_dir / "menagerie-missing"
        log_path = self.cache_dir / "reward-worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        started = time.perf_counter()
        try:
            proc = await spawn_worker(
                TRACE_WORKER,
                str(menagerie),
                str(self.cache_dir / "jax-compilation"),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env=worker_env(test_hooks=self.test_hooks),
                cwd=str(self.cache_dir),
                limit=2**24,
            )
        except WorkerStartError as exc:
            log_file.close()
            raise RewardWorkerError(str(exc)) from exc
        process = _Process(proc, log_file)
        try:
            ready = await asyncio.wait_for(process.read_reply(), self.start_timeout_s)
        except asyncio.CancelledError:
            # The request that started it went away (the person left the scene, the app is closing):
            # nothing holds this worker yet, so it would run unreferenced until the app exits.
            process.kill()
            raise
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            if isinstance(exc, TimeoutError):
                process.kill()
                why = f"it did not answer within {self.start_timeout_s:g} s"
            else:
                # It closed its output, so it is exiting: take its exit status first. Killing an exited
                # child reaps it behind asyncio's back (Popen polls before it signals), and asyncio then
                # reports exit code 255 instead of the real one.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)
                process.kill()
                await proc.wait()
                last = last_error_line(log_path)
                why = f"it exited with code {proc.returncode}" + (f": {last}" if last else "")
            message = f"{worker_name(TRACE_WORKER)} did not start: {why} (log: {log_path})"
            log.error("%s", message)
            raise RewardWorkerError(message) from exc
        if not ready.ok:
            process.kill()
            raise RewardWorkerError(f"the reward worker failed to start: {ready.error}")
        self.starts += 1
        self.last_start_s = time.perf_counter() - started
        log.info("reward worker %d ready in %.1f s", proc.pid, self.last_start_s)
        return process

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()

    async def _kill_and_reap(self) -> None:
        """Kill the worker and wait (briefly) until it is gone, so that an error reported to the
        caller means the runaway program is no longer using the CPU."""
        process = self._process
        self._kill()
        if process is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.proc.wait(), 5.0)

    async def _call(
        self, request: Request, result_type: type[T] | Any, *, timeout_s: float | None = None
    ) -> T:
        async with self._lock:  # one request at a time: the worker is single-threaded
            self._current = request
            try:
                reply = await self._exchange(request, timeout_s or self.timeout_s)
            finally:
                self._current = None
        if not reply.ok:
            if reply.kind == "unknown_scene":
                raise UnknownScene(getattr(request, "scene_id", ""), [])
            raise RewardWorkerError(reply.error)
        return msgspec.msgpack.decode(reply.value, type=result_type)  # type: ignore[no-any-return]

    async def _exchange(self, request: Request, timeout_s: float) -> Reply:
        for attempt in range(2):
            fresh = self._process is None or self._process.proc.returncode is not None
            if fresh:
                self._kill()
                self._process = await self._start()
            process = self._process
            assert process is not None and process.proc.stdin is not None
            self.calls[type(request).__name__] += 1
            try:
                process.proc.stdin.write(pack(request))
                await process.proc.stdin.drain()
                return await asyncio.wait_for(process.read_reply(), timeout_s)
            except TimeoutError as exc:
                await self._kill_and_reap()
                raise RewardWorkerError(f"timed out after {timeout_s:.0f} s; the worker was stopped") from exc
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self._kill()
                # A worker that died while idle (killed, OOM from an earlier request) gets one retry on a
                # fresh process; one that dies on a fresh start is this request's fault.
                if fresh or attempt:
                    raise RewardWorkerError("the worker process died (out of memory or CPU time?)") from exc
            except asyncio.CancelledError:
                self._kill()  # nobody reads the reply; a half-read stream cannot be reused
                raise
        raise AssertionError("unreachable")
