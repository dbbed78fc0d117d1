"""The job store's state machine and the manager with a fake worker (tests/training/fake_worker.py):
queueing, cancelling, crashes, restarts and resumes, and that only whole policies reach the library."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest

from server.settings import Settings
from server.storage.database import Database
from server.training.jobs import InvalidTransition, JobStore, UnknownJob
from server.training.manager import TrainingManager
from server.training.protocol import Job
from server.training.types import JobSpec, JobStatus

T = TypeVar("T")
FAKE = "tests.training.fake_worker"


def spec(task: str = "", **kw: Any) -> JobSpec:
    return JobSpec(scene_id="CartpoleBalance", program="WEIGHTS = {}\n", task_description=task, **kw)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def manager(settings: Settings, database: Database, **kw: Any) -> TrainingManager:
    return TrainingManager(settings, database, worker_module=FAKE, device="cpu", poll_s=0.05, **kw)


async def until(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    # Generous: the fake worker is a new Python process at the lowest CPU priority on shared cores (the
    # restart test failed once in CI with a 15 s wait; the run was cut off before its message).
    for _ in range(int(timeout_s / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def finished(m: TrainingManager, job_id: str) -> JobStatus:
    await until(lambda: m.status(job_id).state not in ("queued", "running"))
    return m.status(job_id)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # reaped between the two looks (ESRCH): gone
        return False
    # A zombie (killed but not yet reaped) counts as gone.
    return "Z" not in stat.split(")")[-1].split()[0]


@pytest.fixture
def database(app_settings: Settings) -> Database:
    return Database(app_settings.database_path)


# ---- the store ---------------------------------------------------------------------------------------
def test_store_enforces_transitions(database: Database) -> None:
    store = JobStore(database)
    job = store.create(spec(), "cpu")
    assert job.state == "queued" and job.started_at is None
    with pytest.raises(InvalidTransition, match="is queued; it cannot become succeeded"):
        store.transition(job.job_id, "succeeded")
    running = store.transition(job.job_id, "running")
    assert running.started_at is not None
    store.transition(job.job_id, "succeeded", policy_id="p")
    for state in ("running", "queued", "cancelled", "interrupted"):
        with pytest.raises(InvalidTransition):
            store.transition(job.job_id, state)  # type: ignore[arg-type]
    with pytest.raises(UnknownJob):
        store.get("nope")


def test_resumed_history_does_not_fold_back(database: Database) -> None:
    from server.training.types import TrainingProgress

    store = JobStore(database)
    job_id = store.create(spec(), "cpu").job_id

    def point(step: int) -> TrainingProgress:
        return TrainingProgress(
            step=step, total_steps=30, eval_reward=float(step), reward_terms={}, task_reward=None,
            steps_per_second=1.0, elapsed_s=0.0, eta_s=None,
        )  # fmt: skip

    for step in (0, 10, 20, 10, 20, 30):  # a resume from the checkpoint at 10 repeats 20
        store.add_progress(job_id, point(step))
    assert [p.step for p in store.get(job_id).history] == [0, 10, 20, 30]
    assert store.all()[0].history == []  # the list leaves the curves out


# ---- the manager ---------------------------------------------------------------------------------
def test_runs_one_at_a_time_in_submission_order(app_settings: Settings, database: Database) -> None:
    async def main() -> None:
        m = manager(app_settings, database)
        m.start()
        jobs = [m.submit(spec(f"steps=3 sleep=0.1 n={i}")) for i in range(3)]
        assert [j.state for j in jobs] == ["running", "queued", "queued"]
        seen_running: set[tuple[str, ...]] = set()
        while any(m.status(j.job_id).state in ("queued", "running") for j in jobs):
            running = tuple(j.job_id for j in jobs if m.status(j.job_id).state == "running")
            assert len(running) <= 1
            seen_running.add(running)
            await asyncio.sleep(0.02)
        statuses = [m.status(j.job_id) for j in jobs]
        assert [s.state for s in statuses] == ["succeeded"] * 3
        starts = [s.started_at for s in statuses]
        assert starts == sorted(starts)  # type: ignore[type-var]
        assert all(s.policy_id for s in statuses)
        assert len(statuses[0].history) == 3 and statuses[0].progress == statuses[0].history[-1]
        assert sorted(p.id for p in m.policies.list()) == sorted(str(s.policy_id) for s in statuses)
        await m.close()

    run(main())


def test_max_concurrent_two(app_settings: Settings, database: Database) -> None:
    async def main() -> None:
        m = manager(app_settings, database, max_concurrent=2)
        m.start()
        jobs = [m.submit(spec("outcome=hang")) for _ in range(3)]
        assert [j.state for j in jobs] == ["running", "running", "queued"]
        await m.close()
        assert [m.status(j.job_id).state for j in jobs] == ["interrupted", "interrupted", "queued"]

    run(main())


def test_cancel_queued_and_running(app_settings: Settings, database: Database) -> None:
    async def main() -> None:
        m = manager(app_settings, database)
        m.start()
        running = m.submit(spec("steps=1 outcome=hang"))
        queued = m.submit(spec())
        await until(lambda: (m.job_dir(running.job_id) / "checkpoint.json").exists())
        pid = m.worker_pid(running.job_id)
        assert pid is not None and alive(pid)
        cancelled = await m.cancel(queued.job_id)
        assert cancelled.state == "cancelled"
        status = await m.cancel(running.job_id, timeout_s=5)
        assert status.state == "cancelled" and status.finished_at is not None
        assert not alive(pid)
        with pytest.raises(InvalidTransition):
            await m.cancel(running.job_id)
        await m.close()

    run(main())


def test_killed_worker_is_interrupted_and_resumable(app_settings: Settings, database: Database) -> None:
    async def main() -> None:
        m = manager(app_settings, database)
        m.start()
        job = m.submit(spec("steps=2 outcome=hang"))
        await until(lambda: len(m.status(job.job_id).history) == 2)
        pid = m.worker_pid(job.job_id)
        assert pid is not None
        os.kill(pid, 9)  # as the kernel's OOM killer would
        status = await finished(m, job.job_id)
        assert status.state == "interrupted"
        assert status.resumable
        assert "killed by SIGKILL" in (status.error or "")
        await m.close()

    run(main())


def test_crash_failure_and_truncated_policy(app_settings: Settings, database: Database) -> None:
    async def main() -> None:
        m = manager(app_settings, database)
        m.start()
        crash, fail, trunc = (m.submit(spec(f"outcome={o}")) for o in ("crash", "fail", "truncate"))
        crashed = await finished(m, crash.job_id)
        assert crashed.state == "interrupted"
        assert crashed.error == "the training process exited with code 3 without reporting a result"
        failed = await finished(m, fail.job_id)
        assert (failed.state, failed.error) == ("failed", "reward term upright produced NaN")
        truncated = await finished(m, trunc.job_id)
        assert truncated.state == "failed"
        assert "params.msgpack does not match" in (truncated.error or "")
        assert m.policies.list() == []  # never a half-written policy
        await m.close()

    run(main())


def test_worker_env_is_scrubbed(
    app_settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    monkeypatch.setenv("ROBOCOACH_TOKEN", "t")

    async def main() -> None:
        m = manager(app_settings, database)
        m.start()
        job = m.submit(spec())
        await finished(m, job.job_id)
        keys = json.loads((m.job_dir(job.job_id) / "env.json").read_text())
        assert "ANTHROPIC_API_KEY" not in keys and "ROBOCOACH_TOKEN" not in keys
        assert "JAX_PLATFORMS" in keys  # a cpu device pins JAX to it
        job_file = json.loads((m.job_dir(job.job_id) / "job_seen.json").read_text())
        assert job_file["scene_cache_dir"] == str(app_settings.cache_dir)
        assert job_file["resume"] is False and job_file["base_params_dir"] is None
        await m.close()

    run(main())


def test_restart_interrupts_running_job_and_auto_resumes(app_settings: Settings, tmp_path: Path) -> None:
    async def first_server() -> tuple[str, int]:
        database = Database(app_settings.database_path)
        m = manager(app_settings, database)
        m.start()
        job = m.submit(spec("steps=4 sleep=0.3"))
        await until(lambda: len(m.status(job.job_id).history) >= 2)
        pid = m.worker_pid(job.job_id)
        assert pid is not None
        # A crash of the server: no close(); the tasks die with the loop and the row still says running.
        m._closed = True
        return job.job_id, pid

    job_id, old_pid = run(first_server())
    database = Database(app_settings.database_path)
    assert JobStore(database).get(job_id).state == "running"

    async def second_server() -> None:
        m = manager(app_settings, database)
        m.start()  # kills the orphan (still running the job), interrupts, and re-queues from the checkpoint
        # close() even when an assertion fails: left to asyncio.run, the cancelled start of the resumed
        # worker hangs Python 3.11 for good (CPython issue 125502: its pipes never finish connecting).
        try:
            assert not alive(old_pid)
            status = await finished(m, job_id)
            assert status.state == "succeeded", status.error
            seen = json.loads((m.job_dir(job_id) / "job_seen.json").read_text())
            assert seen["resume"] is True
            assert [p.step for p in status.history] == [0, 10, 20, 30]
        finally:
            await m.close()

    run(second_server())


def test_restart_without_auto_resume_waits_for_resume(app_settings: Settings) -> None:
    database = Database(app_settings.database_path)
    store = JobStore(database)
    job_id = store.create(spec(), "cpu").job_id
    store.transition(job_id, "running")  # left running by a server that died before the worker started

    async def main() -> None:
        m = manager(app_settings, database, auto_resume=False)
        m.start()
        status = m.status(job_id)
        assert status.state == "interrupted" and not status.resumable  # no checkpoint: starts over
        assert m.resume(job_id).state == "running"
        assert (await finished(m, job_id)).state == "succeeded"
        with pytest.raises(InvalidTransition):
            m.resume(job_id)
        await m.close()

    run(main())


def test_watch_streams_until_final(app_settings: Settings, database: Database) -> None:
    async def main() -> None:
        m = manager(app_settings, database)
        m.start()
        job = m.submit(spec("steps=3 sleep=0.1"))
        states = [(s.state, len(s.history)) async for s in m.watch(job.job_id)]
        assert states[0][0] == "running" and states[-1] == ("succeeded", 3)
        assert [n for _, n in states] == sorted(n for _, n in states)
        await m.close()

    run(main())


def test_job_file_decodes_as_contract(app_settings: Settings, database: Database) -> None:
    """job.json carries exactly the keys the real worker reads."""

    async def main() -> None:
        m = manager(app_settings, database)
        m.start()
        job = m.submit(spec(name="n"))
        await finished(m, job.job_id)
        data = json.loads((m.job_dir(job.job_id) / "job.json").read_text())
        assert set(data) == {"spec", "scene_cache_dir", "resume", "base_params_dir", "job_id", "policy_id"}
        assert data["job_id"] == job.job_id
        assert msgspec.convert(data, Job) == Job(
            spec=job.spec, scene_cache_dir=str(app_settings.cache_dir), job_id=job.job_id
        )
        assert msgspec.convert(data["spec"], JobSpec) == job.spec
        await m.close()

    run(main())


# ---- the live preview's hooks (docs/PREVIEW.md) --------------------------------------------------------
class Preview:
    """Records what the manager tells the live preview; `fail` makes every call raise after recording."""

    def __init__(self, m: TrainingManager, *, fail: bool = False) -> None:
        self.m, self.fail = m, fail
        self.updates: list[tuple[str, int]] = []  # (job, evaluations in live/'s history when told)
        self.ended: list[tuple[str, str]] = []

    def preview_updated(self, job_id: str) -> None:
        manifest = json.loads((self.m.job_dir(job_id) / "live" / "manifest.json").read_text())
        self.updates.append((job_id, len(manifest["metrics_history"])))
        if self.fail:
            raise RuntimeError("preview broke")

    def preview_ended(self, job_id: str, note: str) -> None:
        self.ended.append((job_id, note))
        if self.fail:
            raise RuntimeError("preview broke")


def test_preview_is_told_of_each_live_params_and_of_the_end(
    app_settings: Settings, database: Database
) -> None:
    async def main() -> None:
        m = manager(app_settings, database)
        m.preview = preview = Preview(m)
        m.start()
        job = m.submit(spec("steps=3 sleep=0.3"))
        await until(lambda: bool(preview.updates))
        assert m.status(job.job_id).state == "running" and not preview.ended
        status = await finished(m, job.job_id)
        assert status.state == "succeeded"
        counts = [n for j, n in preview.updates if j == job.job_id]
        # Each evaluation's params (sleep 0.3 s apart, polled every 0.05 s) is announced once, in order.
        assert counts[-3:] == [1, 2, 3] and counts == sorted(set(counts))
        await until(lambda: bool(preview.ended))
        assert preview.ended == [(job.job_id, "the job succeeded: its kept policy is in the library")]
        await m.close()

    run(main())


def test_preview_hooks_that_raise_never_break_a_job(app_settings: Settings, database: Database) -> None:
    async def main() -> None:
        m = manager(app_settings, database)
        m.preview = preview = Preview(m, fail=True)
        m.start()
        ok, failing, crash = (m.submit(spec(f"outcome={o}")) for o in ("succeed", "fail", "crash"))
        hanging = m.submit(spec("steps=1 outcome=hang"))
        assert (await finished(m, ok.job_id)).state == "succeeded"
        assert (await finished(m, failing.job_id)).state == "failed"
        assert (await finished(m, crash.job_id)).state == "interrupted"
        await until(
            lambda: m.status(hanging.job_id).state == "running" and bool(m.status(hanging.job_id).history)
        )
        assert (await m.cancel(hanging.job_id, timeout_s=5)).state == "cancelled"
        await until(lambda: len(preview.ended) == 4)
        notes = dict(preview.ended)
        assert notes[ok.job_id] == "the job succeeded: its kept policy is in the library"
        assert notes[failing.job_id] == "the job failed: reward term upright produced NaN"
        assert notes[crash.job_id] == (
            "the job was interrupted: the training process exited with code 3 without reporting a result"
            " (it can be resumed)"
        )
        assert notes[hanging.job_id] == "the job was cancelled"
        assert {j for j, _ in preview.updates} == {ok.job_id, failing.job_id, crash.job_id, hanging.job_id}
        assert len(m.policies.list()) == 1
        await m.close()

    run(main())


def test_a_server_shutdown_ends_no_preview(app_settings: Settings, database: Database) -> None:
    """Stopping the server interrupts its jobs, but the preview sessions close with the server itself."""

    async def main() -> None:
        m = manager(app_settings, database)
        m.preview = preview = Preview(m)
        m.start()
        job = m.submit(spec("steps=1 outcome=hang"))
        await until(lambda: bool(preview.updates))
        await m.close()
        assert m.status(job.job_id).state == "interrupted" and preview.ended == []

    run(main())
