"""The local backend's device choice, environment and worker priority, and the settings endpoints, without
a GPU."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import msgspec
from litestar.testing import TestClient

from server.sandbox.environment import GPU_MEMORY_ENV
from server.settings import Settings
from server.training.backends import LocalBackend, describe_probe, probe_device
from server.training.protocol import Job
from server.training.types import JobSpec
from tests.training.test_api_training import PROGRAM, api  # noqa: F401 (fixture)


def test_the_report_says_which_device_and_why() -> None:
    gpu = describe_probe(True, ["NVIDIA H100 80GB HBM3"], None)
    assert gpu.device == "gpu" and gpu.name.startswith("NVIDIA H100") and "1 CUDA device" in gpu.reason
    assert describe_probe(False, [], None).device == "cpu"
    no_plugin = describe_probe(True, [], None)
    assert no_plugin.device == "cpu" and "--extra cuda" in no_plugin.reason
    failed = describe_probe(True, None, "ImportError: libcuda")
    assert failed.device == "cpu" and "libcuda" in failed.reason and not failed.probed


def test_probe_without_a_driver_is_cpu_and_imports_nothing() -> None:
    report = asyncio.run(probe_device())
    assert report.device == "cpu"  # these machines have no NVIDIA driver


def test_gpu_workers_leave_room_on_the_card_and_cpu_workers_pin_the_cpu() -> None:
    gpu = LocalBackend("gpu", worker_module="server.training.worker").env()
    assert all(gpu[k] == v for k, v in GPU_MEMORY_ENV.items()) and "JAX_PLATFORMS" not in gpu
    cpu = LocalBackend("cpu", worker_module="server.training.worker").env()
    assert cpu["JAX_PLATFORMS"] == "cpu" and "XLA_PYTHON_CLIENT_MEM_FRACTION" not in cpu


def test_settings_pick_the_backend_of_new_jobs(api: TestClient) -> None:  # type: ignore[type-arg]  # noqa: F811
    report = api.get("/api/training/backends").json()
    assert report["selected"] == "local" and report["local"]["device"] == "cpu"
    assert "configured" in report["modal"] and "token_secret" not in str(report)
    bad = api.put("/api/training/settings", json={"backend": "modal", "modal_max_concurrent": 5000})
    assert bad.status_code == 400
    saved = api.put("/api/training/settings", json={"backend": "modal", "modal_max_concurrent": 150})
    assert saved.status_code == 200 and saved.json()["modal_max_concurrent"] == 150
    assert api.get("/api/training/settings").json()["backend"] == "modal"
    assert api.get("/api/training/backends").json()["modal"]["max_concurrent"] == 150


def _scheduling(pid: int) -> list[tuple[int, int]]:
    """(nice, policy) of every thread of `pid`, from /proc (fields 19 and 41 of stat)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out.append((int(fields[16]), int(fields[38])))
    return out


def test_the_training_worker_yields_the_cpu(app_settings: Settings, tmp_path: Path) -> None:
    """The real worker, as the local backend starts it, runs at nice 19 under SCHED_IDLE, and so do the
    threads JAX starts after it is confined (lowering needs no capability)."""
    job = Job(
        spec=JobSpec(scene_id="CartpoleBalance", program=PROGRAM), scene_cache_dir=str(app_settings.cache_dir)
    )
    (tmp_path / "job.json").write_bytes(msgspec.json.encode(job))
    backend = LocalBackend("cpu", worker_module="server.training.worker")

    async def main() -> list[tuple[int, int]]:
        run = await backend.launch("j", tmp_path, resume=False)
        assert run.pid is not None
        try:
            for _ in range(1200):  # JAX starts its threads a few seconds in
                threads = _scheduling(run.pid)
                if len(threads) > 1:
                    return threads
                await asyncio.sleep(0.05)
            raise AssertionError("the worker started no threads in 60 s")
        finally:
            run.cancel()
            await run.wait()

    threads = asyncio.run(main())
    assert threads and all(t == (19, os.SCHED_IDLE) for t in threads), threads
