"""The trace worker through RewardChecker, with real JAX on CPU, and the built-in drafter's programs.

One checker (one worker process) serves the whole module; tests that kill the worker run last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.llm.builtin import draft_builtin
from server.rewards.checker import RewardChecker, RewardWorkerError
from server.sandbox.escape import Attempt
from tests.rewards.corpus_hostile import STATIC, TRACE
from tests.rewards.harness import Harness

FAKE_KEY = "sk-ant-test-must-not-leak"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    os.environ["ANTHROPIC_API_KEY"] = FAKE_KEY  # the worker is started after this; it must not see it
    cache = Path(os.environ.get("ROBOCOACH_TEST_REWARD_CACHE") or tmp_path_factory.mktemp("rewards"))
    h = Harness(RewardChecker(cache, test_hooks=True))
    started = time.perf_counter()
    h.run(h.checker.vocabulary("CartpoleBalance"))
    print(f"\nworker start {h.checker.last_start_s:.1f} s; first scene {time.perf_counter() - started:.1f} s")
    yield h
    h.run(h.checker.close())
    h.loop.close()
    os.environ.pop("ANTHROPIC_API_KEY", None)


def test_worker_environment_is_scrubbed(harness: Harness) -> None:
    keys = harness.run(harness.checker.worker_env_keys())
    assert "ANTHROPIC_API_KEY" not in keys
    assert not [k for k in keys if "KEY" in k or "TOKEN" in k]
    assert "JAX_PLATFORMS" in keys  # the hook really reports the child's environment


def test_the_real_worker_cannot_reach_the_server(harness: Harness, tmp_path: Path) -> None:
    """From inside the running trace worker: the API process's environment (which holds a key), its
    listening sockets, files outside the worker's folders and the parent itself are all out of reach."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    keys = tmp_path / "llm_keys.json"
    keys.write_text(FAKE_KEY)
    attempts = [
        Attempt("read", f"/proc/{os.getpid()}/environ"),
        Attempt("read", str(keys)),
        Attempt("write", str(tmp_path / "planted")),
        Attempt("connect", str(listener.getsockname()[1])),
        Attempt("signal", str(os.getpid())),
    ]
    results = harness.run(harness.checker.worker_probe(attempts))
    listener.close()
    assert len(results) == len(attempts)
    assert all(outcome.startswith("denied") for outcome in results.values()), results
    assert not (tmp_path / "planted").exists()


def test_issue_9_escape_program_is_refused_and_runs_nothing(harness: Harness, tmp_path: Path) -> None:
    """The program that wrote a file through a second WEIGHTS target: refused before any worker sees it,
    and nothing it names is executed (the worker's cwd is the cache; the file would land there)."""
    canary = harness.checker.cache_dir / "pwned.npy"
    source = (
        'WEIGHTS = jnp.__dict__[__import__("numpy").save("pwned", 1)] = dict(upright=1.0)\n\n'
        "def upright(s):\n    return jnp.cos(s.pole_angle)\n"
    )
    before = harness.checker.calls["Validate"]
    report = harness.run(harness.checker.validate("CartpoleBalance", source))
    assert not report.ok and "assign WEIGHTS on its own" in report.errors[0].message
    assert harness.checker.calls["Validate"] == before
    assert not canary.exists()


def test_static_rejections_never_reach_the_worker(harness: Harness) -> None:
    before = harness.checker.calls["Validate"]
    for _, source, fragment in STATIC[:20]:
        report = harness.run(harness.checker.validate("CartpoleBalance", source))
        assert not report.ok and fragment in " ".join(e.message for e in report.errors)
    assert harness.checker.calls["Validate"] == before


@pytest.mark.parametrize(("name", "source", "fragment"), TRACE, ids=[c[0] for c in TRACE])
def test_trace_rejections_name_the_term(harness: Harness, name: str, source: str, fragment: str) -> None:
    report = harness.run(harness.checker.validate("CartpoleBalance", source))
    assert not report.ok
    (error,) = report.errors
    assert error.stage == "trace" and fragment in error.message and "`t`" in error.message
    assert error.line in (3, 4, 5)  # the term's def line, or the failing line inside it


VALID: dict[str, str] = {
    "CartpoleBalance": """WEIGHTS = dict(up=1.0, centre=0.5, effort=-0.01)
def up(s):
    return (1.0 + jnp.cos(s.pole_angle)) / 2.0
def centre(s):
    return exp_kernel(s.cart_position, 0.5) * jnp.where(0.0 < s.time < 100.0, 1.0, 0.0)
def effort(s):
    return jnp.sum(jnp.square(s.action)) + 0.0 * s.cart_velocity
""",
    "Go1JoystickFlatTerrain": """WEIGHTS = dict(back=1.0, upright=0.5, feet=0.1, smooth=-0.01)
def back(s):
    return exp_kernel(s.base_lin_vel[0] + 0.5, 0.25)
def upright(s):
    return tolerance(s.up_vector[2], 0.9, 1.0, 0.5) * norm(s.gravity)
def feet(s):
    return jnp.mean(s.foot_contact) + jnp.mean(s.foot_pos[:, 2])
def smooth(s):
    return jnp.sum(jnp.square(s.action - s.prev_action)) + jnp.sum(jnp.square(s.joint_vel)) * 1e-4
""",
    "CheetahRun": """WEIGHTS = dict(run=1.0, effort=-0.1)
def run(s):
    return clip(s.forward_velocity / 10.0, 0.0, 1.0) + 0.0 * s.sensor_torso_subtreelinvel[0]
def effort(s):
    return jnp.mean(jnp.square(s.action))
""",
    "PandaPickCube": """WEIGHTS = dict(reach=1.0, lift=2.0)
def reach(s):
    return exp_kernel(s.gripper_pos - s.object_pos, 0.05)
def lift(s):
    return clip(s.object_pos[2] / 0.2, 0.0, 1.0)
""",
}


@pytest.mark.parametrize("scene_id", list(VALID))
def test_valid_programs_pass(harness: Harness, scene_id: str) -> None:
    started = time.perf_counter()
    report = harness.run(harness.checker.validate(scene_id, VALID[scene_id]))
    print(f"\n{scene_id}: first validation {time.perf_counter() - started:.1f} s")
    assert report.ok, report.errors
    started = time.perf_counter()
    assert harness.run(harness.checker.validate(scene_id, VALID[scene_id])).ok
    print(f"{scene_id}: cached validation {time.perf_counter() - started:.2f} s")


def test_vocabulary_is_cached_on_disk(harness: Harness) -> None:
    vocabulary = harness.run(harness.checker.vocabulary("Go1JoystickFlatTerrain"))
    shapes = {e.name: e.shape for e in vocabulary.entries}
    assert shapes["foot_pos"] == [4, 3] and shapes["foot_contact"] == [4] and shapes["base_lin_vel"] == [3]
    assert shapes["joint_pos"] == [12] and shapes["time"] == []
    assert (harness.checker.vocabulary_dir / "Go1JoystickFlatTerrain.json").is_file()


def _totals(harness: Harness, scene_id: str, source: str, overrides: list[dict[str, Any]]) -> list[float]:
    rows = harness.run(harness.checker.evaluate(scene_id, source, overrides))
    return [row["total"] for row in rows]


def _draft(harness: Harness, scene_id: str, task: str) -> str:
    vocabulary = harness.run(harness.checker.vocabulary(scene_id))
    source = draft_builtin(task, scene_id, vocabulary)
    report = harness.run(harness.checker.validate(scene_id, source))
    assert report.ok, (source, report.errors)
    assert task in source or task[:20] in source
    return source


def test_drafter_walk_backwards_prefers_negative_x(harness: Harness) -> None:
    source = _draft(harness, "Go1JoystickFlatTerrain", "make the dog walk backwards")
    still, slow_back, back, forward = _totals(
        harness,
        "Go1JoystickFlatTerrain",
        source,
        [{"base_lin_vel": [v, 0.0, 0.0]} for v in (0.0, -0.25, -0.5, 0.5)],
    )
    assert forward < still < slow_back < back


def test_drafter_turn_left_prefers_positive_yaw(harness: Harness) -> None:
    source = _draft(harness, "Go1JoystickFlatTerrain", "turn left in place")
    right, none, left = _totals(
        harness, "Go1JoystickFlatTerrain", source, [{"base_ang_vel": [0.0, 0.0, w]} for w in (-1.0, 0.0, 1.0)]
    )
    assert right < none < left


def test_drafter_cart_left_prefers_negative_position(harness: Harness) -> None:
    source = _draft(harness, "CartpoleBalance", "balance the pole with the cart at the left")
    right, centre, left = _totals(
        harness, "CartpoleBalance", source, [{"cart_position": x} for x in (0.5, 0.0, -0.5)]
    )
    assert right < centre < left


def test_drafter_cheetah_backwards(harness: Harness) -> None:
    source = _draft(harness, "CheetahRun", "run backwards fast")
    forward, still, back = _totals(
        harness, "CheetahRun", source, [{"forward_velocity": v} for v in (2.0, 0.0, -2.0)]
    )
    assert forward <= still < back


def test_drafter_panda_reach_point(harness: Harness) -> None:
    source = _draft(harness, "PandaPickCube", "reach (0.5, 0, 0.3)")
    far, near = _totals(
        harness, "PandaPickCube", source, [{"gripper_pos": [0.0, 0.5, 0.6]}, {"gripper_pos": [0.5, 0.0, 0.3]}]
    )
    assert far < near
    _draft(harness, "PandaPickCube", "lift the cube")


@pytest.mark.parametrize(
    ("scene_id", "task"),
    [("CartpoleSwingup", "swing the pole up and keep it still"), ("ReacherEasy", "touch the target"),
     ("WalkerWalk", "walk forward at 1 m/s"), ("AcrobotSwingup", "do something nice")],
)  # fmt: skip
def test_drafter_validates_on_classic_scenes(harness: Harness, scene_id: str, task: str) -> None:
    _draft(harness, scene_id, task)


def test_timeout_kills_and_restarts_worker(harness: Harness) -> None:
    pid = harness.checker.worker_pid
    starts = harness.checker.starts
    with pytest.raises(RewardWorkerError, match="timed out"):
        harness.run(harness.checker.worker_sleep(30.0, timeout_s=1.0))
    assert harness.checker.worker_pid is None
    assert (pid is not None and not Path(f"/proc/{pid}").exists()) or _is_zombie(pid)
    report = harness.run(harness.checker.validate("CartpoleBalance", VALID["CartpoleBalance"]))
    assert report.ok
    assert harness.checker.starts == starts + 1


def test_killed_worker_is_restarted(harness: Harness) -> None:
    pid = harness.checker.worker_pid
    assert pid is not None
    os.kill(pid, 9)
    time.sleep(0.2)
    report = harness.run(harness.checker.validate("CartpoleBalance", VALID["CartpoleBalance"]))
    assert report.ok and harness.checker.worker_pid != pid


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _worker_children() -> set[int]:
    """Our child processes that run the trace worker (zombies included: they are dead)."""
    found = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"server.rewards.trace_worker" in cmdline and not _is_zombie(int(pid)):
                found.add(int(pid))
    return found


def test_a_request_cancelled_while_the_worker_starts_leaves_no_worker(tmp_path: Path) -> None:
    checker = RewardChecker(tmp_path)
    before = _worker_children()

    async def cancel_during_start() -> set[int]:
        request = asyncio.ensure_future(checker.vocabulary("CartpoleBalance"))
        deadline = time.monotonic() + 30
        while not (_worker_children() - before) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        started = _worker_children() - before
        assert started, "the worker never started"
        request.cancel()  # before it says ready: importing JAX alone takes longer than this
        with contextlib.suppress(asyncio.CancelledError):
            await request
        await asyncio.sleep(0.5)  # the event loop reaps the killed child
        return started

    loop = asyncio.new_event_loop()
    try:
        started = loop.run_until_complete(cancel_during_start())
        assert not (started & _worker_children()), "the cancelled start left its worker running"
        assert checker.worker_pid is None
    finally:
        loop.run_until_complete(checker.close())
        loop.close()
