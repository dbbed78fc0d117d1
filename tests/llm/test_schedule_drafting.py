"""LLMService.draft_schedule: the command tier's draft from a provider (stub servers speaking the real wire
formats), checked like the built-in's, with the built-in drafter as the fallback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from server.commands.types import CommandSchedule, CommandSegment, ScheduleReport
from server.llm.service import LLMService
from server.llm.types import ProviderName
from tests.commands.test_schedule import GO1
from tests.llm.conftest import KEY
from tests.llm.stubs import Reply, StubServer, Wire

SCHEDULE = {
    "segments": [
        {"duration_s": 1.0, "command": {"forward": 0.45}, "label": "walk forward two steps slowly"},
        {"duration_s": 2.0, "command": {"turn": -3.0}, "label": "turn right fast"},
    ],
    "repeat": False,
}
SENTENCE = "walk forward two steps slowly, then turn right fast"


def deepseek(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService]
) -> tuple[StubServer, LLMService]:
    stub = stubs("openai")
    return stub, make_service({"deepseek": stub.url}, {"DEEPSEEK_API_KEY": KEY})


def draft(
    service: LLMService, sentence: str = SENTENCE, provider: ProviderName = "deepseek"
) -> tuple[ScheduleReport | None, list[str]]:
    return asyncio.run(service.draft_schedule(sentence, "Go1JoystickFlatTerrain", GO1, provider=provider))


def test_the_providers_schedule_is_checked_and_clipped(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService]
) -> None:
    stub, service = deepseek(stubs, make_service)
    stub.queue(Reply(text=f"Here it is:\n```json\n{json.dumps(SCHEDULE)}\n```"))
    report, notes = draft(service)
    assert report is not None and report.ok and report.schedule is not None
    assert report.schedule.segments[0] == CommandSegment(
        duration_s=1.0, command={"forward": 0.45}, label="walk forward two steps slowly"
    )
    assert report.schedule.segments[1].command == {"turn": -1.2}
    assert report.clipped == [
        "segment 2 ('turn right fast'): turn -3 rad/s is outside [-1.2, 1.2]: clipped to -1.2"
    ]
    assert report.duration_s == 3.0
    assert "wrote the command schedule" in notes[0]
    prompt = stub.chats()[0].text
    # The prompt shows the keys, units, ranges and an example, and the sentence.
    for shown in ("forward (m/s; -1.5 to 1.5)", "sideways (m/s; -0.8 to 0.8)", "turn (rad/s; -1.2 to 1.2)"):
        assert shown in prompt
    assert "Example:" in prompt and SENTENCE in prompt


def test_a_bad_answer_is_sent_back_once_then_the_builtin_drafts(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService]
) -> None:
    stub, service = deepseek(stubs, make_service)
    wrong = {"segments": [{"duration_s": 1.0, "command": {"yaw": 1.0}}]}
    stub.queue(
        Reply(text=f"```json\n{json.dumps(wrong)}\n```"), Reply(text="I would walk forward, then turn.")
    )
    report, notes = draft(service)
    chats = stub.chats()
    assert len(chats) == 2
    assert "unknown command key 'yaw'" in chats[1].text and "forward, sideways, turn" in chats[1].text
    assert report is not None and report.ok and report.schedule is not None
    assert [s.label for s in report.schedule.segments] == ["walk forward two steps slowly", "turn right fast"]
    assert report.schedule.segments[1].command == {"turn": -1.2}  # the built-in's "fast" turn
    assert len(notes) == 1 and "did not write a usable command schedule in 2 attempts" in notes[0]
    assert "not valid JSON" in notes[0] and "built-in drafter" in notes[0]


def test_a_repaired_answer_is_used(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService]
) -> None:
    stub, service = deepseek(stubs, make_service)
    stub.queue(Reply(text="{not json"), Reply(text=json.dumps(SCHEDULE)))
    report, notes = draft(service)
    assert report is not None and report.schedule is not None and len(stub.chats()) == 2
    assert report.schedule.segments[0].command == {"forward": 0.45}
    assert "wrote the command schedule" in notes[0]


def test_null_means_not_a_motion_command(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService]
) -> None:
    stub, service = deepseek(stubs, make_service)
    stub.queue(Reply(text="null"))
    report, notes = draft(service, "do a backflip")
    assert report is None and "not a motion command" in notes[0]


def test_an_unreachable_provider_falls_back_to_the_builtin(make_service: Callable[..., LLMService]) -> None:
    service = make_service({}, {"DEEPSEEK_API_KEY": KEY})  # every URL dead
    report, notes = draft(service, "walk backwards slowly")
    assert report is not None and report.schedule == CommandSchedule(
        segments=[CommandSegment(duration_s=2.0, command={"forward": -0.45}, label="walk backwards slowly")]
    )
    assert len(notes) == 1 and "built-in drafter wrote the command schedule instead" in notes[0]


def test_the_builtin_provider_drafts_offline(make_service: Callable[..., LLMService]) -> None:
    service = make_service()
    report, notes = draft(service, "run at 5 m/s", provider="builtin")
    assert report is not None and report.clipped == [
        "segment 1 ('run at 5 m/s'): forward 5 m/s is outside [-1.5, 1.5]: clipped to 1.5"
    ]
    assert notes == []
    assert draft(service, "sit down", provider="builtin") == (None, [])
