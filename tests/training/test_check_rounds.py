"""The job manager's side of success checks: stop-and-keep, the stored outcome, and reflection rounds
(with the protocol-faithful fake worker; the real runner's side is tests/training/test_best_checkpoint.py)."""

from __future__ import annotations

import msgspec

from server.policies.manifest import PolicyManifest
from server.settings import Settings
from server.storage.database import Database
from server.training.types import JobSpec, JobStatus
from tests.training.test_jobs_manager import database, finished, manager, run, spec, until  # noqa: F401

CHECK = "AT_LEAST = dict(upright=0.95)\n"  # the fake worker judges by its `check=` word, not this text


def test_stop_keeps_the_best_evaluation_so_far(app_settings: Settings, database: Database) -> None:  # noqa: F811
    async def main() -> None:
        m = manager(app_settings, database)
        m.start()
        job = m.submit(spec("steps=200 sleep=0.1 check=fail", check=CHECK))
        await until(lambda: len(m.status(job.job_id).history) >= 2)
        status = await m.stop(job.job_id, timeout_s=5)
        assert status.state == "succeeded" and status.policy_id is not None
        assert status.outcome is not None and status.outcome.stop_reason == "stopped"
        assert status.outcome.stopped_early and status.outcome.check is not None
        kept = m.policies.get(status.policy_id)
        assert kept.outcome == status.outcome and kept.check == CHECK
        assert status.next_job_id is None  # a user's stop is not a failed round: no reflection
        await m.close()

    run(main())


def test_stop_before_any_evaluation_cancels(app_settings: Settings, database: Database) -> None:  # noqa: F811
    async def main() -> None:
        m = manager(app_settings, database)
        m.start()
        job = m.submit(spec("steps=0 outcome=hang"))
        await until(lambda: m.worker_pid(job.job_id) is not None)
        status = await m.stop(job.job_id, timeout_s=5)
        assert status.state == "cancelled" and "nothing to keep" in (status.error or "")
        await m.close()

    run(main())


def test_failed_check_queues_linked_rounds_until_the_limit(
    app_settings: Settings,
    database: Database,  # noqa: F811
) -> None:
    seen: list[tuple[str, int]] = []

    async def reflect(status: JobStatus, manifest: PolicyManifest) -> JobSpec:
        seen.append((status.job_id, status.spec.round))
        assert manifest.outcome is not None and manifest.outcome.check is not None
        assert not manifest.outcome.check.passed
        return msgspec.structs.replace(
            status.spec, parent_job_id=status.job_id, round=status.spec.round + 1, revision_notes=["raised"]
        )

    async def main() -> None:
        m = manager(app_settings, database)
        m.reflect = reflect
        m.start()
        first = m.submit(spec("steps=2 check=fail", check=CHECK, reflection_rounds=2))
        done = await finished(m, first.job_id)
        assert done.state == "succeeded" and done.outcome is not None and done.next_job_id is not None
        second = await finished(m, done.next_job_id)
        assert second.spec.parent_job_id == first.job_id and second.spec.round == 1
        assert second.spec.revision_notes == ["raised"] and second.next_job_id is not None
        third = await finished(m, second.next_job_id)
        assert third.spec.round == 2 and third.next_job_id is None  # two rounds after the first: done
        assert [r for _, r in seen] == [0, 1]
        listed = {j.job_id: j for j in m.jobs()}
        assert listed[first.job_id].next_job_id == second.job_id  # the list view carries the lineage
        await m.close()

    run(main())


def test_a_passing_check_or_no_check_gets_no_round(app_settings: Settings, database: Database) -> None:  # noqa: F811
    calls: list[str] = []

    async def reflect(status: JobStatus, manifest: PolicyManifest) -> JobSpec | None:
        calls.append(status.job_id)
        return None

    async def main() -> None:
        m = manager(app_settings, database)
        m.reflect = reflect
        m.start()
        passing = await finished(m, m.submit(spec("steps=2 check=pass", check=CHECK)).job_id)
        unchecked = await finished(m, m.submit(spec("steps=2")).job_id)
        assert passing.outcome is not None and passing.outcome.check is not None
        assert passing.outcome.check.passed and passing.next_job_id is None
        assert unchecked.outcome is not None and unchecked.outcome.check is None
        assert calls == []
        await m.close()

    run(main())
