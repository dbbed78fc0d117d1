"""Many jobs at once through the API on the Modal backend with a fake remote (tests/training/load_harness.py):
12 jobs submitted at once, other API calls answered meanwhile, a server restart halfway, and every job
final afterwards with no job lost and no remote call spawned twice. The remote here is scripted (no JAX);
the real training function through the same fake remote is tested in test_modal_backend.py, and the
200-job benchmark is scripts/bench_jobs_load.py."""

from __future__ import annotations

from pathlib import Path

from tests.training.load_harness import run_load


def test_twelve_jobs_at_once_survive_a_restart(tmp_path: Path) -> None:
    result = run_load(tmp_path, jobs=12, workers=2, capacity=8, real=False, timeout_s=120)
    print(result.summary())
    assert result.states == {"succeeded": 12}
    assert result.spawned == 12  # reattached after the restart, never spawned again
    assert result.restarted_running > 0  # the restart really happened with jobs in flight
    assert result.policies == 12
    assert result.latencies_ms
