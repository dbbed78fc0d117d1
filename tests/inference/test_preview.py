"""Live preview of a training job (docs/PREVIEW.md) with real JAX, real inference worker processes and the
real app: params swapped into a compiled worker without recompiling, the next step playing them; bad
checkpoints skipped with a note while the previous params play on; `WS /api/jobs/{id}/preview` shared by
two sockets, reloaded, ended. No training job runs: the tests write the job's live/ folder by hand, as
the trainer does (save_policy)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import msgspec
import numpy as np
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from server.inference import ipc
from server.inference.protocol import (
    CLOSE_UNKNOWN_MODEL,
    CLOSE_UNPLAYABLE,
    Action,
    Episode,
    Hello,
    PhysicsState,
    PolicyUpdate,
    Reset,
    Status,
    Step,
    decode_server,
    encode,
    from_bytes,
    to_bytes,
)
from server.inference.service import preview_key
from server.inference.session import PlaybackError, PlaybackModel, PlaybackSession
from server.policies.manifest import PARAMS_FILE, NetworkConfig, PolicyManifest
from server.policies.params import load_policy, params_template, save_policy
from server.sandbox.environment import worker_env
from server.training.protocol import LIVE_DIR
from server.training.runner import load_scene
from server.training.types import JobSpec, TrainingProgress
from tests.conftest import make_client
from tests.inference.browser import Browser
from tests.inference.policies import PROGRAMS, app_with_untrained_policy, save_untrained_policy

SCENE = "CartpoleBalance"
JOB = "f" * 32


def progress(step: int, reward: float) -> TrainingProgress:
    return TrainingProgress(
        step=step,
        total_steps=30_000,
        eval_reward=reward,
        reward_terms={"up": reward},
        task_reward=reward,
        steps_per_second=1000.0,
        elapsed_s=1.0,
        eta_s=None,
    )


def evaluations(count: int) -> list[TrainingProgress]:
    """A job's history after `count` evaluations past the step-0 one."""
    return [progress(1000 * i, 10.0 * i) for i in range(count + 1)]


def perturbed(params: Any, scale: float) -> Any:
    """Other policy weights (the normalizer and value network as they were): another behaviour."""
    normalizer, policy, value = params
    return normalizer, jax.tree_util.tree_map(lambda x: np.asarray(x) * scale + 0.05, policy), value


def write_live(
    live: Path, manifest: PolicyManifest, params: Any, history: list[TrainingProgress], job_id: str = JOB
) -> None:
    """What the trainer does after an evaluation: the live/ folder rewritten in place."""
    live.mkdir(parents=True, exist_ok=True)
    save_policy(live, params, msgspec.structs.replace(manifest, job_id=job_id, metrics_history=history))


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> tuple[PolicyManifest, Any]:
    """An untrained Cartpole policy's manifest and params (the job's starting point)."""
    directory = tmp_path_factory.mktemp("untrained") / "policy"
    save_untrained_policy(directory, SCENE, scene_cache)
    return load_policy(directory)


@pytest.fixture(scope="module")
def models(
    tmp_path_factory: pytest.TempPathFactory, scene_cache: Path, policy: tuple[PolicyManifest, Any]
) -> tuple[PlaybackModel, PlaybackModel]:
    """Playback models built directly from the untrained params and from the perturbed ones (scale -1)."""
    manifest, params = policy
    root = tmp_path_factory.mktemp("models")
    write_live(root / "old", manifest, params, evaluations(0))
    write_live(root / "new", manifest, perturbed(params, -1.0), evaluations(1))
    return PlaybackModel(root / "old", scene_cache), PlaybackModel(root / "new", scene_cache)


def rest_pose(model: PlaybackModel) -> PhysicsState:
    return PhysicsState(
        qpos=to_bytes(np.asarray(model.base.mj_model.qpos0)),
        qvel=to_bytes(np.zeros(model.nv)),
        act=to_bytes(np.zeros(model.na)),
        time=0.0,
        qacc_warmstart=to_bytes(np.zeros(model.nv)),
    )


def ctrl_of(model: PlaybackModel, state: Any, action: Any, pose: PhysicsState) -> np.ndarray:
    """The ctrl `model`'s own params give for one step from `state` (browser physics: `pose`)."""
    b = model.browser_state(pose, "before", warmstart=True)
    a = model.browser_state(pose, "after", warmstart=False)
    return np.asarray(model.advance(state, action, b, a, None)[2], np.float64)


def test_swapped_params_play_at_the_next_step_without_recompiling(
    models: tuple[PlaybackModel, PlaybackModel],
) -> None:
    old, new = models
    pose = rest_pose(old)
    session = PlaybackSession(old)
    session.reset(seed=2)
    session.step(0, pose, pose)
    traces = old.traces
    cached = (old._begin._cache_size(), old._advance._cache_size())  # type: ignore[attr-defined]
    kept = old.params
    state, action = session.state, session.action
    before_swap = ctrl_of(old, state, action, pose)
    try:
        old.swap_params(new.params)
        reply = session.step(1, pose, pose)
        # The next step's ctrl is the one a model built from the new params' folder computes.
        expected = ctrl_of(new, state, action, pose)
        np.testing.assert_allclose(from_bytes(reply.ctrl, old.nu, "ctrl"), expected, atol=1e-6)
        assert not np.allclose(expected, before_swap, atol=1e-3)  # the swap changed what plays
        assert reply.step == 2  # the episode went on
        assert old.traces == traces  # nothing traced again, so nothing compiled again
        assert (old._begin._cache_size(), old._advance._cache_size()) == cached  # type: ignore[attr-defined]
    finally:
        old.swap_params(kept)


def test_params_of_another_network_or_nan_are_refused(
    models: tuple[PlaybackModel, PlaybackModel], policy: tuple[PolicyManifest, Any]
) -> None:
    old, _new = models
    manifest, params = policy
    kept = old.params
    wider = msgspec.structs.replace(
        manifest,
        network=NetworkConfig(
            **{**msgspec.structs.asdict(manifest.network), "policy_hidden_layer_sizes": [8]}
        ),
    )
    with pytest.raises(PlaybackError, match="the playing network's"):
        old.swap_params(params_template(wider))
    normalizer, policy_params, value = params
    poisoned = jax.tree_util.tree_map(lambda x: np.full_like(np.asarray(x), np.nan), policy_params)
    with pytest.raises(PlaybackError, match="NaN"):
        old.swap_params((normalizer, poisoned, value))
    assert old.params is kept


class Worker:
    """A real inference worker process on a live/ folder, driven over its stdin/stdout like the service."""

    def __init__(self, live: Path, scene_cache: Path, log: Path) -> None:
        self.log = log
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.inference.worker", str(live), str(scene_cache)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=worker_env(),
            )
        self.hello = decode_server(self.receive(ipc.WORKER_SESSION)[0])
        assert isinstance(self.hello, Hello), self.hello

    def send(self, session: int, kind: str, message: Any = None) -> None:
        frame = b"" if message is None else encode(message)
        assert self.process.stdin is not None
        self.process.stdin.write(ipc.pack(ipc.ToWorker(session, kind, frame)))  # type: ignore[arg-type]
        self.process.stdin.flush()

    def receive(self, session: int) -> list[bytes]:
        assert self.process.stdout is not None
        body = ipc.read_blocking(self.process.stdout)
        assert body is not None, self.log.read_text()[-2000:]
        reply = ipc.decode_from_worker(body)
        assert reply.session == session
        return reply.frames

    def ask(self, message: Any) -> Any:
        self.send(1, "frame", message)
        return decode_server(self.receive(1)[0])

    def reload(self) -> PolicyUpdate:
        self.send(ipc.WORKER_SESSION, "reload")
        (frame,) = self.receive(ipc.WORKER_SESSION)
        update = decode_server(frame)
        assert isinstance(update, PolicyUpdate)
        return update

    def traces(self) -> list[int]:
        """Every "traced N times" the worker logged: after its compile, then after each reload."""
        return [int(n) for n in re.findall(r"traced (\d+) times", self.log.read_text())]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, scene_cache: Path, policy: tuple[PolicyManifest, Any]
) -> Iterator[tuple[Worker, Path]]:
    manifest, params = policy
    live = tmp_path_factory.mktemp("job") / LIVE_DIR
    write_live(live, manifest, params, evaluations(0))
    running = Worker(live, scene_cache, live.parent / "worker.log")
    running.send(1, "open")
    yield running, live
    running.close()


def test_the_worker_swaps_in_a_newer_checkpoint_without_recompiling(
    worker: tuple[Worker, Path],
    models: tuple[PlaybackModel, PlaybackModel],
    policy: tuple[PolicyManifest, Any],
) -> None:
    running, live = worker
    old, new = models
    manifest, params = policy
    pose = rest_pose(old)
    assert running.reload() == PolicyUpdate(
        job_id=JOB,
        step=0,
        total_steps=30_000,
        evaluation=0,
        eval_reward=0.0,
        check_passed=None,
        check_score=None,
    )
    write_live(live, manifest, params, evaluations(0))  # the untrained params, in case another test swapped
    running.reload()
    # The same episode in the worker and here: reset, one step with the untrained params.
    episode = running.ask(Reset(seed=4))
    assert isinstance(episode, Episode)
    reference = PlaybackSession(old)
    reference.reset(seed=4)
    first = running.ask(Step(seq=0, before=pose, after=pose))
    reference_first = reference.step(0, pose, pose)
    np.testing.assert_allclose(
        from_bytes(first.ctrl, old.nu, "ctrl"), from_bytes(reference_first.ctrl, old.nu, "ctrl"), atol=1e-6
    )

    write_live(live, manifest, perturbed(params, -1.0), evaluations(1))
    update = running.reload()
    assert (update.step, update.evaluation, update.eval_reward, update.note) == (1000, 1, 10.0, "")
    second = running.ask(Step(seq=1, before=pose, after=pose))
    assert isinstance(second, Action) and second.step == 2  # the episode went on
    expected = ctrl_of(new, reference.state, reference.action, pose)
    np.testing.assert_allclose(from_bytes(second.ctrl, old.nu, "ctrl"), expected, atol=1e-6)
    counts = running.traces()
    assert len(counts) >= 3 and len(set(counts)) == 1, counts  # compiled once; reloads traced nothing


def test_a_bad_checkpoint_is_skipped_and_the_previous_params_play_on(
    worker: tuple[Worker, Path],
    models: tuple[PlaybackModel, PlaybackModel],
    policy: tuple[PolicyManifest, Any],
) -> None:
    running, live = worker
    old, new = models
    manifest, params = policy
    pose = rest_pose(old)
    write_live(live, manifest, perturbed(params, -1.0), evaluations(1))  # what plays from here on
    assert running.reload().evaluation == 1

    def assert_skipped(update: PolicyUpdate, reason: str) -> None:
        # The params still playing are described (evaluation 1), with a note naming the skipped one.
        assert (update.step, update.evaluation, update.eval_reward) == (1000, 1, 10.0)
        assert update.note.startswith("skipped the") and reason in update.note, update.note
        episode = running.ask(Reset(seed=5))
        assert isinstance(episode, Episode)
        reference = PlaybackSession(new)  # built from evaluation 1's params
        expected = from_bytes(reference.reset(seed=5).ctrl, new.nu, "ctrl")
        np.testing.assert_allclose(from_bytes(episode.ctrl, new.nu, "ctrl"), expected, atol=1e-6)
        action = running.ask(Step(seq=0, before=pose, after=pose))
        assert isinstance(action, Action) and action.step == 1

    normalizer, policy_params, value = params
    poisoned = jax.tree_util.tree_map(lambda x: np.where(np.asarray(x) > 0, np.nan, x), policy_params)
    write_live(live, manifest, (normalizer, poisoned, value), evaluations(2))
    assert_skipped(running.reload(), "NaN")

    narrow = msgspec.structs.replace(
        manifest,
        network=NetworkConfig(
            **{**msgspec.structs.asdict(manifest.network), "policy_hidden_layer_sizes": [8]}
        ),
    )
    write_live(live, narrow, params_template(narrow), evaluations(3))
    assert_skipped(running.reload(), "network")

    # The manifest's network, but params of another shape (a trainer bug): they do not fit it.
    save_policy(
        live, params_template(narrow), msgspec.structs.replace(manifest, metrics_history=evaluations(4))
    )
    assert_skipped(running.reload(), "does not fit")

    write_live(live, manifest, params, evaluations(5))
    live.joinpath(PARAMS_FILE).write_bytes(b"\x00corrupt")  # damaged after the manifest was written
    assert_skipped(running.reload(), "params_sha256")

    counts = running.traces()
    assert len(set(counts)) == 1, counts
    assert running.process.poll() is None  # still serving


# -- the real app: WS /api/jobs/{job_id}/preview ------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, scene_cache: Path) -> Iterator[TestClient]:  # type: ignore[type-arg]
    settings, _policy_id = app_with_untrained_policy(tmp_path_factory.mktemp("preview"), SCENE, scene_cache)
    with make_client(settings) as client:
        yield client


def new_job(client: TestClient, state: str = "running") -> str:  # type: ignore[type-arg]
    """A job record only (no training runs): the tests play the trainer's part."""
    store = client.app.state.services.training.store
    job_id: str = store.create(JobSpec(scene_id=SCENE, program=PROGRAMS[SCENE], name="preview"), "cpu").job_id
    if state != "queued":
        store.transition(job_id, "running")
    if state not in ("queued", "running"):
        store.transition(job_id, state, error="boom" if state == "failed" else None)
    return job_id


def connect(client: TestClient, job_id: str) -> Any:  # type: ignore[type-arg]
    token = client.app.state.settings.token
    return client.websocket_connect(
        f"/api/jobs/{job_id}/preview?token={token}", headers={"Authorization": ""}
    )


def receive(ws: Any) -> Any:
    return decode_server(ws.receive_bytes())


def opened(ws: Any) -> tuple[list[str], Hello, PolicyUpdate]:
    """Status messages, the hello and the PolicyUpdate right after it."""
    messages = []
    while isinstance(message := receive(ws), Status):
        messages.append(message.message or message.phase)
    assert messages[-1:] == ["ready"] and isinstance(message, Hello)
    update = receive(ws)
    assert isinstance(update, PolicyUpdate)
    return messages, message, update


def on_loop(client: TestClient, function: Any, *args: Any) -> None:  # type: ignore[type-arg]
    """Call a service method the way the training manager does: on the app's event loop."""
    client.blocking_portal.call(function, *args)  # type: ignore[attr-defined]


def test_two_sockets_share_a_preview_that_reloads_and_ends(
    app: TestClient,  # type: ignore[type-arg]
    policy: tuple[PolicyManifest, Any],
    scene_cache: Path,
) -> None:
    manifest, params = policy
    service = app.app.state.services.inference
    model = load_scene(SCENE, scene_cache).env.mj_model
    job_id = new_job(app)
    live = app.app.state.services.training.job_dir(job_id) / LIVE_DIR
    with connect(app, job_id) as ws_a:
        waiting = receive(ws_a)
        assert isinstance(waiting, Status) and waiting.message == "waiting for the job's first policy"
        write_live(live, manifest, params, [], job_id)  # the job started
        _messages, hello, first = opened(ws_a)
        assert (first.job_id, first.step, first.evaluation, first.eval_reward, first.ended) == (
            job_id,
            0,
            0,
            None,
            False,
        )
        with connect(app, job_id) as ws_b:
            messages, _hello, update_b = opened(ws_b)
            assert messages == ["ready"] and update_b == first  # compiled already; the latest update
            assert [key for key in service._workers if key.startswith("job:")] == [preview_key(job_id)]
            browsers = [Browser(model, hello), Browser(model, hello)]
            for ws, browser, seed in ((ws_a, browsers[0], 1), (ws_b, browsers[1], 2)):
                ws.send_bytes(encode(Reset(seed=seed)))
                browser.start(receive(ws))
                ws.send_bytes(encode(browser.interval(0)))
                browser.apply(receive(ws))

            history = evaluations(1)
            write_live(live, manifest, perturbed(params, 2.0), history, job_id)
            on_loop(app, service.preview_updated, job_id)
            for ws in (ws_a, ws_b):
                update = receive(ws)
                assert isinstance(update, PolicyUpdate)
                assert (update.job_id, update.step, update.evaluation, update.ended) == (
                    job_id,
                    1000,
                    1,
                    False,
                )

            app.app.state.services.training.store.transition(job_id, "cancelled")
            on_loop(app, service.preview_ended, job_id, "the job was cancelled")
            on_loop(app, service.preview_ended, job_id, "again")  # idempotent
            on_loop(app, service.preview_updated, "no-such-job")  # no preview: nothing happens
            on_loop(app, service.preview_ended, "no-such-job", "gone")
            for ws, browser in zip((ws_a, ws_b), browsers, strict=True):
                ended = receive(ws)
                assert isinstance(ended, PolicyUpdate) and ended.ended
                assert (ended.evaluation, ended.note) == (1, "the job was cancelled")
                ws.send_bytes(encode(browser.interval(1)))  # the session goes on with the last params
                action = receive(ws)
                assert isinstance(action, Action) and action.step == 2
    worker = service._workers[preview_key(job_id)]
    deadline = time.monotonic() + 10  # the server sees the sockets close a moment after they do
    while (worker.sessions or worker.idle_timer is None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker.sessions and worker.idle_timer is not None  # idle now: the usual rule stops it

    with connect(app, job_id) as ws:  # a window opened after the job ended still sees it ended
        _messages, _hello, update = opened(ws)
        assert update.ended and update.note == "the job was cancelled"


def test_unknown_and_never_started_jobs_close_with_a_reason(app: TestClient) -> None:  # type: ignore[type-arg]
    with pytest.raises(WebSocketDisconnect) as refused, connect(app, "nope") as ws:
        ws.receive_bytes()
    assert refused.value.code == CLOSE_UNKNOWN_MODEL and "unknown training job" in refused.value.detail

    failed = new_job(app, "failed")
    with pytest.raises(WebSocketDisconnect) as refused, connect(app, failed) as ws:
        ws.receive_bytes()
    assert refused.value.code == CLOSE_UNPLAYABLE and "never wrote a policy" in refused.value.detail

    queued = new_job(app, "queued")
    with pytest.raises(WebSocketDisconnect) as closed, connect(app, queued) as ws:
        waiting = receive(ws)
        assert isinstance(waiting, Status) and waiting.phase == "compiling"
        app.app.state.services.training.store.transition(queued, "cancelled")
        ws.receive_bytes()
    assert closed.value.code == CLOSE_UNPLAYABLE and "cancelled" in closed.value.detail
