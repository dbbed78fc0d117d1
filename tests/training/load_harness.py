"""Many jobs at once through the HTTP API, on the Modal backend with a fake remote
(tests/training/fake_remote.py) that runs the real training function locally at tiny budgets, or a scripted
stand-in (real=False). Shared by the CI test (12 jobs) and
scripts/bench_jobs_load.py (200 jobs).

`run_load` submits N jobs at once, measures the latency of other API calls while they run (a status, the
job list, the backends report), restarts the server halfway (a new app and manager on the same database;
the fake remote's calls go on, as Modal's would) and waits until every job is final.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from litestar.testing import TestClient

from server.settings import Settings, load_settings
from server.training.manager import TrainingManager
from server.training.modal_backend import ModalBackend
from server.training.settings import TrainingSettings, write_training_settings
from tests.conftest import TEST_PORT, make_client
from tests.training.fake_remote import LocalRemote
from tests.training.test_api_training import PROGRAM, StubRewards, StubScenes

FINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class LoadResult:
    jobs: int
    submit_s: float
    total_s: float
    states: dict[str, int]
    latencies_ms: list[float] = field(default_factory=list)
    spawned: int = 0
    restarted_running: int = 0
    policies: int = 0

    def p(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")

    def summary(self) -> str:
        return (
            f"{self.jobs} jobs: submitted in {self.submit_s:.2f} s, all final after {self.total_s:.0f} s; "
            f"states {self.states}; remote calls spawned {self.spawned}; running at restart "
            f"{self.restarted_running}; policies in library {self.policies}; other API calls "
            f"n={len(self.latencies_ms)} median {statistics.median(self.latencies_ms):.1f} ms, "
            f"p99 {self.p(0.99):.1f} ms, max {max(self.latencies_ms):.1f} ms"
        )


@contextlib.contextmanager
def _server(settings: Settings, remote: LocalRemote, capacity: int) -> Iterator[TestClient]:  # type: ignore[type-arg]
    """The real app with this test's manager in place of its own from the start (so the restarted server
    recovers the jobs with the fake remote, not the live Modal), and stand-in scenes and checker."""

    def manager(settings: Settings, database: Any, **kwargs: Any) -> TrainingManager:
        backend = ModalBackend(lambda: remote, capacity=capacity, poll_s=0.3)
        return TrainingManager(
            settings, database, device="cpu", poll_s=0.1, backends={"modal": backend}, **kwargs
        )

    async def stubs(app: Any) -> None:
        app.state.services.scenes = StubScenes()
        app.state.services.rewards = StubRewards()

    with mock.patch("server.services.TrainingManager", manager):
        client = make_client(settings)
        client.app.on_startup.append(stubs)
        with client:
            yield client


def _timed(client: TestClient, path: str, out: list[float]) -> Any:  # type: ignore[type-arg]
    started = time.perf_counter()
    response = client.get(path)
    out.append((time.perf_counter() - started) * 1000)
    assert response.status_code == 200, response.text
    return response.json()


def run_load(
    data_dir: Path,
    *,
    jobs: int,
    workers: int = 2,
    capacity: int = 100,
    real: bool = True,
    timeout_s: float = 3600,
) -> LoadResult:
    settings = load_settings(data_dir=data_dir, port=TEST_PORT)
    remote = LocalRemote(data_dir / "modal-volume", workers=workers, real=real)
    latencies: list[float] = []
    try:
        with _server(settings, remote, capacity) as client:
            write_training_settings(client.app.state.services.database, TrainingSettings(backend="modal"))
            client.app.state.services.training.apply_settings(TrainingSettings(backend="modal"))
            started = time.perf_counter()
            ids = []
            for i in range(jobs):
                body = {"scene_id": "CartpoleBalance", "program": PROGRAM, "preset": "cpu_quick",
                        "timesteps": 512, "seed": i, "name": f"load {i}"}  # fmt: skip
                response = client.post("/api/training/start", json=body)
                assert response.status_code == 201, response.text
                ids.append(response.json()["job_id"])
            submit_s = time.perf_counter() - started
            # Run until about half are final, measuring the other calls meanwhile.
            while True:
                listed = _timed(client, "/api/training", latencies)
                _timed(client, f"/api/training/{ids[len(ids) // 2]}/status", latencies)
                _timed(client, "/api/training/backends", latencies)
                done = sum(1 for j in listed if j["state"] in FINAL)
                if done >= jobs // 2 or time.perf_counter() - started > timeout_s:
                    break
                time.sleep(0.2)
            running = sum(1 for j in listed if j["state"] == "running")
        # The server stops here (jobs left interrupted, remote calls going on) and starts again.
        with _server(settings, remote, capacity) as client:
            while True:
                listed = _timed(client, "/api/training", latencies)
                _timed(client, "/api/health", latencies)
                states = [j["state"] for j in listed]
                if all(s in FINAL for s in states) or time.perf_counter() - started > timeout_s:
                    break
                time.sleep(0.2)
            total_s = time.perf_counter() - started
            policies = len(client.get("/api/models").json())
        counts: dict[str, int] = {}
        for s in states:
            counts[s] = counts.get(s, 0) + 1
        return LoadResult(
            jobs=jobs,
            submit_s=submit_s,
            total_s=total_s,
            states=counts,
            latencies_ms=latencies,
            spawned=remote.spawned,
            restarted_running=running,
            policies=policies,
        )
    finally:
        remote.close()
