"""`robocoach train` with the tier planner (--budget, --tier), in process with the fake worker and the
stand-ins of test_train_cli.py: a shipped base is fine-tuned with the planner's budget, a forced tier that
cannot run exits 2 with the reason, and the command tier prints its schedule (the built-in schedule
drafter's) and base without training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from desktop.cli import main
from server.checks.types import CheckResult
from server.commands.types import CommandSpec
from server.scenes.types import SceneInfo
from server.training.presets import default_steps, fine_tune_steps
from tests.desktop.test_train_cli import Rewards, Scenes, fakes  # noqa: F401 (the autouse stand-ins)
from tests.policies.test_bases_api import SHIPPED_ID, ship_base
from tests.training.test_api_training import PROGRAM

JOY = "CartpoleSwingup"  # stands in for a joystick scene: the stand-in registry gives it a command
COMMAND = CommandSpec(
    names=["forward velocity", "sideways velocity", "turn rate"],
    low=[-1.5, -0.8, -1.2],
    high=[1.5, 0.8, 1.2],
    keys=["forward", "sideways", "turn"],
    units=["m/s", "m/s", "rad/s"],
)


class JoyScenes(Scenes):
    async def get(self, scene_id: str) -> SceneInfo:
        info = await super().get(scene_id)
        return msgspec.structs.replace(info, command=COMMAND) if scene_id == JOY else info


@pytest.fixture
def bases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bases"
    monkeypatch.setenv("ROBOCOACH_BASES_DIR", str(folder))
    monkeypatch.setattr("server.services.SceneRegistry", JoyScenes)
    return folder


def train(tmp_path: Path, *extra: str) -> int:
    reward = tmp_path / "reward.py"
    reward.write_text(PROGRAM)
    args = ["train", "--reward", str(reward), "--data-dir", str(tmp_path / "d"), "--name", "steps=2"]
    return main([*args, *extra])


def seen_specs(tmp_path: Path) -> list[dict[str, Any]]:
    return [
        msgspec.json.decode(p.read_bytes())["spec"] for p in (tmp_path / "d" / "jobs").glob("*/job_seen.json")
    ]


def test_fine_tunes_a_shipped_base(tmp_path: Path, bases: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ship_base(bases)
    assert train(tmp_path, "--scene", "CartpoleBalance") == 0
    err = capsys.readouterr().err
    [spec] = seen_specs(tmp_path)
    assert spec["base_policy_id"] == SHIPPED_ID
    assert (
        spec["timesteps"]
        == fine_tune_steps("cpu", "classic_control")
        < default_steps("cpu", "classic_control")
    )
    assert (
        " * fine_tuning: about" in err and "   command: unavailable: CartpoleBalance takes no commands" in err
    )
    assert f"fine-tuning the base policy {SHIPPED_ID}" in err

    assert train(tmp_path, "--scene", "CartpoleBalance", "--budget", "unlimited") == 0
    assert " * full_training:" in capsys.readouterr().err
    full = [s for s in seen_specs(tmp_path) if s["base_policy_id"] is None]
    assert len(full) == 1 and full[0]["timesteps"] is None


def test_a_forced_tier_without_a_base_is_refused(
    tmp_path: Path, bases: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(tmp_path, "--scene", "CartpoleBalance", "--tier", "fine_tuning") == 2
    err = capsys.readouterr().err
    assert "--tier fine_tuning: fine tuning cannot run" in err
    assert "Prepare a base policy for CartpoleBalance (Library > Prepare)" in err
    assert not (tmp_path / "d" / "jobs").exists() or seen_specs(tmp_path) == []
    with pytest.raises(SystemExit):
        main(["train", "--scene", "CartpoleBalance", "--task", "x", "--tier", "magic"])
    with pytest.raises(SystemExit):
        main(["train", "--scene", "CartpoleBalance", "--task", "x", "--budget", "soon"])


def test_the_command_tier_prints_its_schedule(
    tmp_path: Path, bases: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ship_base(bases, JOY)
    code = main(["train", "--scene", JOY, "--task", "walk forward 5 m/s", "--data-dir", str(tmp_path / "d")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == SHIPPED_ID  # the base that would play
    assert " * command: at once" in err
    assert "1. 2 s: forward 1.5  (walk forward 5 m/s)" in err  # the built-in schedule drafter's
    assert "clipped: segment 1 ('walk forward 5 m/s'): forward 5 m/s is outside [-1.5, 1.5]" in err
    assert "press Play on the command tier" in err
    assert not (tmp_path / "d" / "jobs").exists() or seen_specs(tmp_path) == []  # nothing trained


class JudgingRewards(Rewards):
    """The CLI's stand-in checker, with the base's verdict on the drafted check set by the test (the real
    rollouts in the worker: tests/rewards/test_judge_base.py)."""

    passes = 0

    async def judge_base(self, scene_id: str, source: str, folder: Path) -> CheckResult:
        assert folder.name == scene_id and (await self.validate_check(scene_id, source)).ok
        return CheckResult(
            passed=self.passes == 10, episodes=10, passed_episodes=self.passes, score=self.passes / 10,
            figures=[], summary=f"cart offset 0.87 (<= 0.3) in {self.passes}/10 episodes",
        )  # fmt: skip


def test_a_base_that_does_none_of_the_drafted_task_trains_from_scratch(
    tmp_path: Path, bases: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ship_base(bases)
    monkeypatch.setattr("server.services.RewardChecker", JudgingRewards)
    task = [
        "--scene",
        "CartpoleBalance",
        "--task",
        "keep the pole upright",
        "--data-dir",
        str(tmp_path / "d"),
    ]
    assert main(["train", *task, "--name", "steps=2"]) == 0
    err = capsys.readouterr().err
    assert " * fine_tuning: about" in err  # the plan before the draft ...
    assert f"the base policy {SHIPPED_ID} on this task's check: cart offset 0.87 (<= 0.3) in 0/10" in err
    assert "it does none of the task: training from scratch instead (about" in err  # ... and after
    [spec] = seen_specs(tmp_path)
    assert spec["base_policy_id"] is None and spec["check"]

    monkeypatch.setattr(JudgingRewards, "passes", 4)  # a base that does some of it is fine-tuned
    assert main(["train", *task, "--name", "steps=2"]) == 0
    assert "instead" not in capsys.readouterr().err
    assert [s["base_policy_id"] for s in seen_specs(tmp_path)].count(SHIPPED_ID) == 1
