"""`POST /api/policy/generate` with the planner, through the real app (real library, real built-in drafter,
the real static reward check; stand-in scenes): the three options, the planner's choice per time budget,
the base used, a forced tier that cannot run refused with 422 and the reason, and a joystick scene's
command schedule from the real built-in schedule drafter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from server.checks.types import CheckResult, FigureResult
from server.commands.types import CommandSpec
from server.policies.library import PolicyLibrary
from server.rewards.checker import RewardChecker
from server.rewards.types import ValidationReport, Vocabulary
from server.scenes.registry import SceneRegistry, UnknownScene
from server.services import Services
from server.settings import Settings
from tests.conftest import make_client
from tests.policies.helpers import add_policy
from tests.training.test_prepare_base import Rewards, scene_info

JOY = "JoyCartpole"  # a cartpole that takes a command: the joystick case without Go1's minutes of loading
COMMAND = CommandSpec(
    names=["forward velocity", "sideways velocity", "turn rate"],
    low=[-1.5, -0.8, -1.2],
    high=[1.5, 0.8, 1.2],
    keys=["forward", "sideways", "turn"],
    units=["m/s", "m/s", "rad/s"],
)


class Checker(RewardChecker):
    """The real static checks of rewards and checks, on the cartpole's names (no worker). The base's
    verdict on a check (rollouts in the worker: tests/rewards/test_judge_base.py) is set by the test:
    `base_passes` of 10 starts."""

    def __init__(self) -> None:
        self.stub = Rewards()
        self.base_passes = 10
        self.judged: list[tuple[str, Path]] = []  # (scene, base folder) per judgement asked for

    async def judge_base(self, scene_id: str, source: str, folder: Path) -> CheckResult:
        assert (await self.validate_check(scene_id, source)).ok  # only a valid check is judged
        self.judged.append((scene_id, folder))
        figure = FigureResult(name="cart_offset", mean=0.9, worst=0.9, at_least=None, at_most=0.3, met=0)
        return CheckResult(
            passed=self.base_passes == 10, episodes=10, passed_episodes=self.base_passes,
            score=self.base_passes / 10, figures=[figure], summary=f"{self.base_passes}/10 (stand-in)",
        )  # fmt: skip

    async def vocabulary(self, scene_id: str) -> Vocabulary:
        return await self.stub.vocabulary(scene_id)

    async def validate(self, scene_id: str, program: str) -> ValidationReport:
        return await self.stub.validate(scene_id, program)

    async def validate_check(self, scene_id: str, source: str) -> ValidationReport:
        return await self.stub.validate_check(scene_id, source)

    async def close(self) -> None:
        pass


class Scenes(SceneRegistry):
    """Two scenes, ready at once (a subclass: handlers receive the registry by its type)."""

    def __init__(self) -> None:
        pass

    async def get(self, scene_id: str) -> Any:
        if scene_id not in ("CartpoleBalance", JOY):
            raise UnknownScene(scene_id, ["CartpoleBalance", JOY])
        info = scene_info(scene_id)
        return info if scene_id != JOY else msgspec.structs.replace(info, command=COMMAND)

    async def close(self) -> None:
        pass


@pytest.fixture
def api(app_settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    client = make_client(app_settings)

    async def swap(app: Any) -> None:
        services: Services = app.state.services
        await services.rewards.close()
        services.scenes = Scenes()
        services.rewards = Checker()

    client.app.on_startup.append(swap)
    with client:
        yield client


def library(api: TestClient) -> PolicyLibrary:  # type: ignore[type-arg]
    return api.app.state.services.policies  # type: ignore[no-any-return]


def generate(api: TestClient, task: str, scene_id: str, **extra: Any) -> Any:  # type: ignore[type-arg]
    body = {"task_description": task, "scene_id": scene_id, "provider": "builtin"} | extra
    return api.post("/api/policy/generate", json=body)


def make_base(api: TestClient, scene_id: str) -> str:  # type: ignore[type-arg]
    manifest = add_policy(library(api))
    folder = library(api).folder(manifest.policy_id)
    data = folder / "manifest.json"
    data.write_text(data.read_text().replace('"CartpoleBalance"', f'"{scene_id}"'))
    library(api).set_base(manifest.policy_id, True)
    return manifest.policy_id


def test_without_a_base_full_training_and_why(api: TestClient) -> None:  # type: ignore[type-arg]
    response = generate(api, "keep the pole upright", "CartpoleBalance")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["training_method"], body["base_policy"], body["time_budget"]) == (
        "full_training",
        None,
        "fast",
    )
    assert [o["method"] for o in body["options"]] == ["command", "fine_tuning", "full_training"]
    command, fine, full = body["options"]
    assert not command["available"] and "takes no commands" in command["unavailable_reason"]
    assert not fine["available"] and "Prepare a base policy for CartpoleBalance" in fine["unavailable_reason"]
    assert full["available"] and body["training_time_estimate"] == full["estimate"]
    assert body["training_time_estimate_s"] == full["estimate_s"]
    assert body["command_schedule"] is None  # not a joystick scene
    assert body["validation"]["ok"]

    refused = generate(api, "keep the pole upright", "CartpoleBalance", method="fine_tuning")
    assert refused.status_code == 422
    assert "Prepare a base policy for CartpoleBalance (Library > Prepare)" in refused.json()["detail"]
    assert refused.json()["extra"] == {"method": "fine_tuning"}


def test_with_a_base_budget_picks(api: TestClient) -> None:  # type: ignore[type-arg]
    base_id = make_base(api, "CartpoleBalance")
    fast = generate(api, "keep the pole upright", "CartpoleBalance").json()
    assert (fast["training_method"], fast["base_policy"]) == ("fine_tuning", base_id)
    assert fast["training_time_estimate"] == fast["options"][1]["estimate"]
    assert fast["options"][1]["timesteps"] > 0
    full = generate(api, "keep the pole upright", "CartpoleBalance", time_budget="unlimited").json()
    assert (full["training_method"], full["base_policy"], full["time_budget"]) == (
        "full_training",
        None,
        "unlimited",
    )
    forced = generate(
        api, "keep the pole upright", "CartpoleBalance", time_budget="unlimited", method="fine_tuning"
    )
    assert forced.json()["training_method"] == "fine_tuning"


def test_a_base_that_does_none_of_the_task_is_not_fine_tuned(api: TestClient) -> None:  # type: ignore[type-arg]
    base_id = make_base(api, "CartpoleBalance")
    checker: Checker = api.app.state.services.rewards
    checker.base_passes = 0
    task = "keep the pole upright"  # the stand-in vocabulary has its names; the verdict is set above
    fast = generate(api, task, "CartpoleBalance").json()
    assert checker.judged == [("CartpoleBalance", library(api).folder(base_id))]
    assert (fast["training_method"], fast["base_policy"]) == ("full_training", None)
    assert fast["base_check"]["passed_episodes"] == 0
    assert fast["training_time_estimate_s"] == fast["options"][2]["estimate_s"]
    fine = fast["options"][1]
    assert fine["available"] and "The base does none of this task" in fine["summary"]
    assert "0/10 (stand-in)" in fine["summary"]
    # Asked for at most a fine-tune, or forced: the fine-tune it is, and its summary says what the base did.
    medium = generate(api, task, "CartpoleBalance", time_budget="medium").json()
    assert (medium["training_method"], medium["base_policy"]) == ("fine_tuning", base_id)
    assert "does none of this task" in medium["options"][1]["summary"]
    forced = generate(api, task, "CartpoleBalance", method="fine_tuning").json()
    assert forced["training_method"] == "fine_tuning" and forced["base_check"]["passed_episodes"] == 0
    # A base that passes from some starts is fine-tuned.
    checker.base_passes = 3
    some = generate(api, task, "CartpoleBalance").json()
    assert some["training_method"] == "fine_tuning"
    assert "The base passes the check from 3 of 10 starts" in some["options"][1]["summary"]
    # Training from scratch anyway: nothing to judge.
    judged = len(checker.judged)
    full = generate(api, task, "CartpoleBalance", time_budget="unlimited").json()
    assert full["base_check"] is None and len(checker.judged) == judged


def test_joystick_scene_command_tier(api: TestClient) -> None:  # type: ignore[type-arg]
    no_base = generate(api, "walk backwards slowly", JOY)
    assert no_base.status_code == 200, no_base.text
    body = no_base.json()
    assert body["training_method"] == "full_training"
    assert body["command_schedule"]["ok"] and body["command_schedule"]["schedule"]["segments"]
    assert f"Prepare a base policy for {JOY}" in body["options"][0]["unavailable_reason"]
    refused = generate(api, "walk backwards slowly", JOY, method="command")
    assert refused.status_code == 422 and "scripts/build_bases.py" in refused.json()["detail"]

    base_id = make_base(api, JOY)
    fast = generate(api, "walk backwards slowly", JOY).json()
    assert (fast["training_method"], fast["base_policy"]) == ("command", base_id)
    assert fast["training_time_estimate"].startswith("at once")
    medium = generate(api, "walk backwards slowly", JOY, time_budget="medium").json()
    assert medium["training_method"] == "fine_tuning"
    # A sentence that is no command: the cheapest tier left is the fine-tune.
    other = generate(api, "stand on the hind legs", JOY).json()
    assert other["training_method"] == "fine_tuning"
    assert other["command_schedule"] is None
    assert "motion command" in other["options"][0]["unavailable_reason"]
    # A command out of range is clipped and said so.
    clipped = generate(api, "walk forward 5 m/s", JOY).json()["command_schedule"]
    assert clipped["schedule"]["segments"][0]["command"]["forward"] == 1.5
    assert "outside [-1.5, 1.5]: clipped to 1.5" in clipped["clipped"][0]


def test_bad_tier_fields(api: TestClient) -> None:  # type: ignore[type-arg]
    assert generate(api, "keep the pole upright", "CartpoleBalance", time_budget="soon").status_code == 400
    assert generate(api, "keep the pole upright", "CartpoleBalance", method="magic").status_code == 400
    assert generate(api, "keep the pole upright", "Nope").status_code == 404


def commands(api: TestClient, task: str, scene_id: str, **extra: Any) -> Any:  # type: ignore[type-arg]
    body = {"task_description": task, "scene_id": scene_id, "provider": "builtin"} | extra
    return api.post("/api/policy/commands", json=body)


def test_commands_fast_path_matches_generate(api: TestClient) -> None:  # type: ignore[type-arg]
    # No base yet: the schedule is drafted, the tier says which base is missing and how to get it.
    no_base = commands(api, "walk backwards slowly, then turn left", JOY)
    assert no_base.status_code == 200, no_base.text
    body = no_base.json()
    assert body["base_policy"] is None and not body["option"]["available"]
    assert f"Prepare a base policy for {JOY}" in body["option"]["unavailable_reason"]
    segments = body["schedule"]["schedule"]["segments"]
    assert [s["command"] for s in segments] == [{"forward": -0.45}, {"turn": pytest.approx(0.72)}]

    base_id = make_base(api, JOY)
    fast = commands(api, "walk backwards slowly, then turn left", JOY).json()
    assert (fast["scene_id"], fast["base_policy"], fast["option"]["method"]) == (JOY, base_id, "command")
    assert fast["option"]["available"] and fast["option"]["estimate"].startswith("at once")
    full = generate(api, "walk backwards slowly, then turn left", JOY).json()
    assert fast["schedule"] == full["command_schedule"] and fast["option"] == full["options"][0]
    # Out of range: clipped and said so, as generate does.
    clipped = commands(api, "walk forward 5 m/s", JOY).json()["schedule"]
    assert "outside [-1.5, 1.5]: clipped to 1.5" in clipped["clipped"][0]
    # Not a motion command: no schedule, and the tier says why.
    other = commands(api, "stand on the hind legs", JOY).json()
    assert other["schedule"] is None and not other["option"]["available"]
    assert "motion command" in other["option"]["unavailable_reason"]


def test_commands_for_a_scene_without_commands_and_bad_input(api: TestClient) -> None:  # type: ignore[type-arg]
    plain = commands(api, "walk forward", "CartpoleBalance")
    assert plain.status_code == 200, plain.text
    assert (
        plain.json()["schedule"] is None
        and "takes no commands" in plain.json()["option"]["unavailable_reason"]
    )
    unknown = commands(api, "walk forward", "Nope")
    assert unknown.status_code == 404 and "CartpoleBalance" in unknown.json()["extra"]["valid_ids"]
    assert commands(api, "", JOY).status_code == 400
    assert commands(api, "walk", JOY, time_budget="fast").status_code == 400  # not a field of this route
