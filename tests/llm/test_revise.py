"""Reflection through the real SDK clients against stub servers: the provider sees what the evaluation
saw and returns a revised reward; a provider that fails in any way hands over to the built-in revision."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from server.llm.service import LLMService, Revision
from server.rewards.types import Vocabulary
from tests.llm.conftest import (
    BAD_CHECK,
    BAD_PROGRAM,
    CLOUD,
    ENV_VAR,
    GOOD_CHECK,
    GOOD_PROGRAM,
    KEY,
    WIRES,
    fake_builtin_revise,
    fake_validate,
    fake_validate_check,
    make_reflection,
)
from tests.llm.stubs import Reply, StubServer, Wire

REVISED = GOOD_PROGRAM.replace("backward=1.0, effort=-0.001", "backward=3.0, effort=-0.0001")
FIXED_CHECK = GOOD_CHECK.replace("forward_speed=-0.3", "forward_speed=-0.2")


def reply(program: str, check: str) -> Reply:
    analysis = "The effort penalty dwarfs the task term, so I rescale it.\n\n"
    return Reply(text=f"{analysis}```python\n{program}```\n\n```python\n{check}```")


def revise(service: LLMService, vocabulary: Vocabulary, provider: Any, **kwargs: Any) -> Revision:
    return asyncio.run(
        service.revise(
            make_reflection(),
            vocabulary.scene_id,
            vocabulary,
            fake_validate,
            fake_validate_check,
            provider=provider,
            model=kwargs.pop("model", None),
            builtin_revise=fake_builtin_revise,
            **kwargs,
        )
    )


@pytest.fixture(params=CLOUD)
def cloud(
    request: pytest.FixtureRequest,
    stubs: Callable[[Wire], StubServer],
    make_service: Callable[..., LLMService],
) -> tuple[str, StubServer, LLMService]:
    name = request.param
    stub = stubs(WIRES[name])
    return name, stub, make_service({name: stub.url}, {ENV_VAR[name]: KEY})


def test_revision_prompt_carries_the_evaluation(
    cloud: tuple[str, StubServer, LLMService], vocabulary: Vocabulary
) -> None:
    name, stub, service = cloud
    stub.queue(reply(REVISED, GOOD_CHECK))
    revision = revise(service, vocabulary, name)
    assert (revision.program, revision.check, revision.provider, revision.attempts) == (
        REVISED,
        GOOD_CHECK,
        name,
        1,
    )
    assert revision.timesteps_factor == 1.0 and revision.report.ok and revision.check_report.ok
    assert len(revision.notes) == 1 and "revised the reward" in revision.notes[0]
    [sent] = stub.chats()
    text = sent.text
    # The task, the reward that was trained, each term's statistics, the check's figures with the one that
    # failed, and the curve's shape (json.dumps escapes newlines and quotes; the needles have neither).
    for needle in (
        "make the dog walk backwards",
        "WEIGHTS = dict(backward=1.0, effort=-0.001)",
        "backward (weight 1): mean 412.5, spread (std) 38.25",
        "effort (weight -0.001): mean 9876, spread (std) 1.5",
        "never_fell: mean 0.2, worst episode 0; required >= 1, held in 1/5 episodes <- FAILED",
        "forward_speed: mean -0.41, worst episode -0.35; required <= -0.3, held in 5/5 episodes",
        "Eval reward at each evaluation: 10, 350, 820, 130",
        "rose then collapsed: peak 820 at evaluation 3 of 4, last 130",
        "AT_LEAST = dict(never_fell=1.0)",
    ):
        assert needle in text, needle
    assert "AT_LEAST = dict(figure=number" in text  # the system prompt teaches the check language too


def test_revision_may_correct_the_check(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    stub = stubs("anthropic")
    stub.queue(reply(REVISED, FIXED_CHECK))
    revision = revise(
        make_service({"anthropic": stub.url}, {"ANTHROPIC_API_KEY": KEY}), vocabulary, "anthropic"
    )
    assert revision.check == FIXED_CHECK
    assert any("also changed the success check" in note for note in revision.notes)


def test_revision_repairs_then_keeps_the_previous_check(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    stub = stubs("ollama")
    # A bad reward, then a good reward with a check that never validates: the check the job was trained
    # against stays.
    stub.queue(reply(BAD_PROGRAM, BAD_CHECK), reply(REVISED, BAD_CHECK))
    revision = revise(make_service({"ollama": stub.url}), vocabulary, "ollama", max_attempts=2)
    assert (revision.program, revision.provider, revision.attempts) == (REVISED, "ollama", 2)
    assert revision.check == GOOD_CHECK and revision.check_report.ok
    assert any("previous check is kept" in note for note in revision.notes)
    _, second = stub.chats()
    assert "name 'foo' is not defined" in second.text and "name 'bar' is not defined" in second.text
    assert "rejected the reward program" in second.text and "rejected the check program" in second.text


@pytest.mark.parametrize(
    ("replies", "cause_words"),
    [
        ([Reply(status=500)], "500"),  # the service failed
        ([reply(BAD_PROGRAM, GOOD_CHECK)] * 3, "did not write a valid reward program"),  # never valid
    ],
)
def test_provider_failure_falls_back_to_the_builtin_revision(
    cloud: tuple[str, StubServer, LLMService],
    vocabulary: Vocabulary,
    replies: list[Reply],
    cause_words: str,
) -> None:
    name, stub, service = cloud
    stub.queue(*replies)
    revision = revise(service, vocabulary, name)
    assert (revision.provider, revision.model, revision.attempts) == ("builtin", "templates", 0)
    assert "backward=2.0" in revision.program and revision.report.ok  # fake_builtin_revise's change
    assert revision.timesteps_factor == 1.5 and revision.check == GOOD_CHECK
    first, builtin_note = revision.notes
    assert cause_words in first and "built-in drafter revised the reward instead" in first
    assert builtin_note == "raised the weight of backward (builtin)"
    assert KEY not in " ".join(revision.notes)


def test_unreachable_provider_falls_back(
    make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    service = make_service({}, {"OPENAI_API_KEY": KEY})  # every base URL is a closed port
    revision = revise(service, vocabulary, "openai")
    assert revision.provider == "builtin" and "Could not connect" in revision.notes[0]


def test_builtin_provider_revises_without_a_request(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    stub = stubs("ollama")
    revision = revise(make_service({"ollama": stub.url}), vocabulary, "builtin")
    assert (revision.provider, revision.attempts, revision.timesteps_factor) == ("builtin", 0, 1.5)
    assert revision.notes == ["raised the weight of backward (builtin)"]
    assert stub.chats() == []
