"""The LLM layer with the real static checker and offline drafters from server/rewards and builtin.py."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import msgspec

from server.llm.builtin import draft_builtin, draft_builtin_check, revise_builtin
from server.llm.prompt import extract_check, extract_program, system_prompt
from server.llm.service import LLMService
from server.rewards.static_check import static_check
from server.rewards.types import ValidationReport, Vocabulary, VocabularyEntry
from tests.llm.conftest import GOOD_CHECK, GOOD_PROGRAM, KEY, fake_builtin_check, make_reflection
from tests.llm.stubs import Reply, StubServer, Wire


def checker(vocabulary: Vocabulary, kind: str = "reward") -> Callable[[str], Awaitable[ValidationReport]]:
    names = {entry.name for entry in vocabulary.entries}
    shapes = {entry.name: entry.shape for entry in vocabulary.entries}

    async def validate(program: str) -> ValidationReport:
        if kind == "check":
            return static_check(program, names, shapes, kind="check")
        return static_check(program, names, shapes)

    return validate


def test_prompt_example_passes_the_real_checker(vocabulary: Vocabulary) -> None:
    example = extract_program(system_prompt(vocabulary))
    assert "def backward_speed(s):" in example
    report = static_check(example, {e.name for e in vocabulary.entries})
    assert report.ok, report.errors
    # The check example (cartpole's, as in docs/CHECKS.md) passes the real check validator.
    check = extract_check(system_prompt(vocabulary))
    assert "AT_LEAST = dict(upright=0.95)" in check
    cartpole = {"pole_angle", "cart_position"}
    check_report = static_check(check, cartpole, {name: [] for name in cartpole}, kind="check")
    assert check_report.ok, check_report.errors
    assert [(f.name, f.at_least, f.at_most) for f in check_report.figures] == [
        ("upright", 0.95, None),
        ("cart_travel", None, 1.5),
    ]
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
    # A reward with an import, and a check that reads a reward term's name (not a physical quantity).
    bad_check = GOOD_CHECK.replace("s.alive", "s.backward")
    stub.queue(
        Reply(text=f"```python\nimport os\n{GOOD_PROGRAM}```\n```python\n{bad_check}```"),
        Reply(text=f"```python\n{GOOD_PROGRAM}```\n```python\n{GOOD_CHECK}```"),
    )
    service = make_service({"anthropic": stub.url}, {"ANTHROPIC_API_KEY": KEY})
    result = asyncio.run(
        service.draft(
            "walk backwards",
            vocabulary.scene_id,
            vocabulary,
            checker(vocabulary),
            validate_check=checker(vocabulary, "check"),
            provider="anthropic",
            model=None,
            builtin=draft_builtin,
            builtin_check=fake_builtin_check,
        )
    )
    assert result.attempts == 2 and result.report.ok and result.check_report.ok
    assert [f.name for f in result.check_report.figures] == ["forward_speed", "never_fell"]
    repair = stub.chats()[1].text
    assert "line 1" in repair and "imports are not allowed" in repair
    assert "rejected the check program" in repair and "line 12" in repair and "backward" in repair


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
            validate_check=checker(vocabulary, "check"),
            provider=None,  # no Ollama in tests: the builtin drafter
            model=None,
            builtin=draft_builtin,
            builtin_check=draft_builtin_check,
        )
    )
    assert (result.provider, result.attempts, result.check_source) == ("builtin", 1, "builtin")
    assert "WEIGHTS" in result.program
    assert result.report.ok, result.report.errors
    assert result.check_report.ok, result.check_report.errors
    assert result.check_report.figures


def test_builtin_revision_through_the_service(
    make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    """provider 'builtin' revises with the real deterministic reviser, no request sent; the revised
    program and the kept check pass the real static checks."""
    extra = ["base_height", "joint_vel", "foot_contact", "base_ang_vel", "gravity", "prev_action"]
    entries = vocabulary.entries + [VocabularyEntry(name=n, shape=[3], description=n) for n in extra]
    vocabulary = msgspec.structs.replace(vocabulary, entries=entries)
    program = draft_builtin("make the dog walk backwards", vocabulary.scene_id, vocabulary)
    reflection = msgspec.structs.replace(make_reflection(program=program), terms=[])
    revision = asyncio.run(
        make_service().revise(
            reflection,
            vocabulary.scene_id,
            vocabulary,
            checker(vocabulary),
            checker(vocabulary, "check"),
            provider="builtin",
            model=None,
            builtin_revise=revise_builtin,
        )
    )
    assert (revision.provider, revision.attempts, revision.check) == ("builtin", 0, GOOD_CHECK)
    assert revision.report.ok, revision.report.errors
    assert revision.check_report.ok, revision.check_report.errors
    assert revision.program != program and revision.notes  # it changed something and said what
    assert revision.timesteps_factor >= 1.0
