"""The LLM layer with the real static checker and offline drafter from server/rewards and builtin.py."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import msgspec

from server.llm.builtin import draft_builtin
from server.llm.prompt import extract_program, system_prompt
from server.llm.service import LLMService
from server.rewards.static_check import static_check
from server.rewards.types import ValidationReport, Vocabulary, VocabularyEntry
from tests.llm.conftest import GOOD_PROGRAM, KEY
from tests.llm.stubs import Reply, StubServer, Wire


def checker(vocabulary: Vocabulary) -> Callable[[str], Awaitable[ValidationReport]]:
    names = {entry.name for entry in vocabulary.entries}

    async def validate(program: str) -> ValidationReport:
        return static_check(program, names)

    return validate


def test_prompt_example_passes_the_real_checker(vocabulary: Vocabulary) -> None:
    example = extract_program(system_prompt(vocabulary))
    assert "def backward_speed(s):" in example
    report = static_check(example, {e.name for e in vocabulary.entries})
    assert report.ok, report.errors
    # Every helper and rule keyword the prompt names exists in docs/REWARDS.md.
    assert set(re.findall(r"^- (\w+)\(", system_prompt(vocabulary), re.M)) >= {
        "tolerance",
        "exp_kernel",
        "clip",
        "norm",
    }


def test_repair_loop_with_real_checker_errors(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    stub = stubs("anthropic")
    stub.queue(
        Reply(text=f"```python\nimport os\n{GOOD_PROGRAM}```"), Reply(text=f"```python\n{GOOD_PROGRAM}```")
    )
    service = make_service({"anthropic": stub.url}, {"ANTHROPIC_API_KEY": KEY})
    result = asyncio.run(
        service.draft(
            "walk backwards",
            vocabulary.scene_id,
            vocabulary,
            checker(vocabulary),
            provider="anthropic",
            model=None,
            builtin=draft_builtin,
        )
    )
    assert result.attempts == 2 and result.report.ok
    assert "line 1" in stub.chats()[1].text and "imports are not allowed" in stub.chats()[1].text


def test_builtin_through_the_service(make_service: Callable[..., LLMService], vocabulary: Vocabulary) -> None:
    # The floating-base entries docs/REWARDS.md promises every legged scene; the builtin may use any of them.
    extra = ["base_ang_vel", "base_height", "base_pos", "gravity", "joint_pos", "joint_vel", "prev_action"]
    extra += ["qpos", "qvel", "ctrl", "actuator_force", "foot_pos", "foot_contact"]
    entries = vocabulary.entries + [VocabularyEntry(name=n, shape=[3], description=n) for n in extra]
    vocabulary = msgspec.structs.replace(vocabulary, entries=entries)
    result = asyncio.run(
        make_service().draft(
            "make the dog walk backwards",
            vocabulary.scene_id,
            vocabulary,
            checker(vocabulary),
            provider=None,  # no Ollama in tests: the builtin drafter
            model=None,
            builtin=draft_builtin,
        )
    )
    assert (result.provider, result.attempts) == ("builtin", 1)
    assert "WEIGHTS" in result.program
    assert result.report.ok, result.report.errors
