"""`robocoach train` in process, with the fake worker and stand-ins for scenes and the reward checker:
the saved policy's path on stdout, progress on stderr, exit codes for bad input, failure and Ctrl+C."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from desktop.cli import main
from server.policies.library import PolicyLibrary
from tests.training.test_api_training import HOSTILE, PROGRAM, StubRewards, StubScenes


class Scenes(StubScenes):
    def __init__(self, *_args: object, **_kw: object) -> None:
        pass

    def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class Rewards(StubRewards):
    def __init__(self, *_args: object, **_kw: object) -> None:
        pass

    async def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("server.services.SceneRegistry", Scenes)
    monkeypatch.setattr("server.services.RewardChecker", Rewards)
    monkeypatch.setattr("server.training.manager.WORKER_MODULE", "tests.training.fake_worker")


def train(tmp_path: Path, *extra: str, program: str = PROGRAM) -> int:
    reward = tmp_path / "reward.py"
    reward.write_text(program)
    args = ["train", "--scene", "CartpoleBalance", "--reward", str(reward), "--data-dir", str(tmp_path / "d")]
    return main([*args, *extra])


def test_trains_and_prints_the_policy_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(tmp_path, "--name", "steps=3 sleep=0.05", "--timesteps", "1000", "--seed", "7") == 0
    out, err = capsys.readouterr()
    folder = Path(out.strip())
    assert (folder / "params.msgpack").is_file() and (folder / "manifest.json").is_file()
    [summary] = PolicyLibrary(tmp_path / "d").list()
    assert folder.name == summary.id
    manifest = PolicyLibrary(tmp_path / "d").get(summary.id)
    assert manifest.program == PROGRAM
    assert "[########################] 20/20 steps  eval 2  ETA 0:00" in err


def test_failure_and_bad_input_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(tmp_path, "--name", "outcome=fail") == 1
    assert "training failed: reward term upright produced NaN" in capsys.readouterr().err
    assert train(tmp_path, program=HOSTILE) == 2
    assert "does not pass validation" in capsys.readouterr().err
    assert main(["train", "--scene", "Robodog", "--reward", str(tmp_path / "reward.py")]) == 2
    assert "valid ids: CartpoleBalance" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--scene", "CartpoleBalance"])
    assert exit_info.value.code == 2
    assert "exactly one of --task or --reward" in capsys.readouterr().err


def test_ctrl_c_cancels_the_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        assert train(tmp_path, "--name", "steps=1 outcome=hang") == 130
    finally:
        timer.cancel()
    assert "cancelled: job" in capsys.readouterr().err
    assert PolicyLibrary(tmp_path / "d").list() == []
