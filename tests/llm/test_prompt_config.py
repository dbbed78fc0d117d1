"""The prompt's content and size, reading programs out of replies, the reflection message, and
configuration from env vars."""

from __future__ import annotations

import msgspec
import pytest

from server.llm.config import LLMConfig, load_llm_config
from server.llm.prompt import (
    curve_shape,
    extract_check,
    extract_program,
    reflection_message,
    repair_message,
    system_prompt,
    task_message,
)
from server.rewards.types import ProgramError, ValidationReport, Vocabulary, VocabularyEntry
from tests.llm.conftest import GOOD_CHECK, GOOD_PROGRAM, make_reflection


def test_system_prompt_holds_rules_vocabulary_and_format(vocabulary: Vocabulary) -> None:
    prompt = system_prompt(vocabulary)
    for needle in (
        "WEIGHTS = dict(",
        "jnp.where",
        "tolerance(x, lower, upper, margin)",
        "exp_kernel",
        "- s.base_lin_vel [3]: base linear velocity, body frame (m/s)",
        "- s.time scalar: seconds since reset",
        "Allowed jnp functions: sum, square, where",
        "Go1JoystickFlatTerrain",
        "exactly two ```python code blocks",
        "AT_LEAST = dict(figure=number, ...)",
        "s.alive",
        "shape [T, *shape]",
    ):
        assert needle in prompt
    assert len(prompt.encode()) < 6000
    assert "make it jump" in task_message("  make it jump ")


def test_large_vocabularies_stay_compact() -> None:
    """A humanoid has hundreds of generated part entries; they are listed by name, grouped by shape."""
    parts = [
        VocabularyEntry(name=f"body_link{i}_pos", shape=[3], description="position of body link (m, world)")
        for i in range(300)
    ]
    vocabulary = Vocabulary(scene_id="G1", entries=parts, helpers=[], jnp_functions=["sum"])
    prompt = system_prompt(vocabulary)
    assert "body_link0_pos" in prompt and "body_link299_pos" in prompt
    assert "position of body link" not in prompt
    assert len(prompt.encode()) < 12000


def test_repair_message_lists_line_numbers_and_messages() -> None:
    report = ValidationReport(
        ok=False,
        errors=[
            ProgramError(line=7, column=12, message="name 'foo' is not allowed", stage="static"),
            ProgramError(line=0, column=0, message="term 'x' has no weight", stage="static"),
        ],
        terms=[],
    )
    message = repair_message(report)
    assert "- line 7, column 12 (static): name 'foo' is not allowed" in message
    assert "- program (static): term 'x' has no weight" in message
    assert "complete programs" in message
    assert "The check program was accepted" in message
    check_report = ValidationReport(
        ok=False,
        errors=[ProgramError(line=4, column=0, message="AT_MOST names no figure", stage="static")],
        terms=[],
    )
    both = repair_message(report, check_report)
    assert "rejected the reward program" in both and "rejected the check program" in both
    assert "- line 4 (static): AT_MOST names no figure" in both and "accepted" not in both
    only_check = repair_message(None, check_report)
    assert "The reward program was accepted" in only_check and "name 'foo'" not in only_check


@pytest.mark.parametrize(
    "reply",
    [
        f"```python\n{GOOD_PROGRAM}```",
        f"Sure, here you go:\n\n```python\n{GOOD_PROGRAM}```\n\nThis rewards speed.",
        f"```py\n{GOOD_PROGRAM}\n```",
        f"```\n{GOOD_PROGRAM}```",
        f"```python\n{GOOD_PROGRAM}",  # cut off before the closing fence
        f"<think>maybe ```python\nWEIGHTS = dict(x=1.0)\n```</think>\n```python\n{GOOD_PROGRAM}```",
        f"First a helper sketch:\n```python\nx = 1\n```\nThe program:\n```python\n{GOOD_PROGRAM}```",
        GOOD_PROGRAM,
        f"Here it is:\n{GOOD_PROGRAM}\nHope this helps!",
    ],
)
def test_extract_program(reply: str) -> None:
    assert extract_program(reply) == GOOD_PROGRAM


@pytest.mark.parametrize(
    "reply",
    [
        f"```python\n{GOOD_PROGRAM}```\n\nThe check:\n```python\n{GOOD_CHECK}```",
        f"```python\n{GOOD_CHECK}```\n```python\n{GOOD_PROGRAM}```",  # the other order
        "<think>```python\nAT_LEAST = dict(x=1)\n```</think>"
        f"```python\n{GOOD_PROGRAM}```\n```py\n{GOOD_CHECK}```",
        f"```\n{GOOD_PROGRAM}```\n```\n{GOOD_CHECK}",  # unlabelled fences, the last one cut off
    ],
)
def test_extract_both_programs(reply: str) -> None:
    assert extract_program(reply) == GOOD_PROGRAM
    assert extract_check(reply) == GOOD_CHECK


def test_extract_check_when_there_is_none_or_only_one() -> None:
    assert extract_check(f"```python\n{GOOD_PROGRAM}```") == ""
    assert extract_check(GOOD_PROGRAM) == ""
    assert extract_check("I cannot do that.") == ""
    assert extract_check(f"Here:\n{GOOD_CHECK}\nDone.") == GOOD_CHECK  # raw code that is only a check
    assert extract_program(f"Here:\n{GOOD_CHECK}\nDone.") == ""  # ...holds no reward


@pytest.mark.parametrize(
    ("rewards", "shape"),
    [
        ([], "too short"),
        ([5.0], "too short"),
        ([100.0, 101.0, 100.5], "flat"),
        ([10.0, 300.0, 900.0, 1000.0], "still rising at the end (last 1000)"),
        ([10.0, 1000.0, 125.0, 547.0], "rose then collapsed: peak 1000 at evaluation 2 of 4, last 547"),
        ([10.0, 600.0, 800.0, 700.0], "levelled off at about 700 (best 800 at evaluation 3)"),
        ([0.0, float("nan"), 0.0], "flat"),  # NaN evaluations are left out
        ([float("nan"), 3.0], "too short"),
    ],
)
def test_curve_shape(rewards: list[float], shape: str) -> None:
    assert shape in curve_shape(rewards)


def test_reflection_message_is_eureka_style_feedback() -> None:
    message = reflection_message(make_reflection())
    for needle in (
        "Task: make the dog walk backwards",
        "WEIGHTS = dict(backward=1.0, effort=-0.001)",  # the reward that was trained
        "4000000 environment steps",
        "kept at step 2000000",
        "- backward (weight 1): mean 412.5, spread (std) 38.25",
        "- effort (weight -0.001): mean 9876, spread (std) 1.5",
        "AT_MOST = dict(forward_speed=-0.3)",  # the check
        "Its verdict: failed: never_fell 0.2 (>= 1) in 1/5 episodes",
        "- never_fell: mean 0.2, worst episode 0; required >= 1, held in 1/5 episodes <- FAILED",
        "- forward_speed: mean -0.41, worst episode -0.35; required <= -0.3, held in 5/5 episodes\n",
        "Eval reward at each evaluation: 10, 350, 820, 130",
        "rose then collapsed",
        "0.00, 0.40, 0.80, 0.60",
        "Keep the check as it is unless it is itself wrong",
        "two ```python code blocks",
    ):
        assert needle in message, needle
    assert len(message.encode()) < 4000


def test_extract_program_without_code_passes_text_on() -> None:
    # The validator then reports the syntax error, which goes back to the model.
    assert extract_program("I cannot do that.") == "I cannot do that.\n"
    assert extract_program("") == ""


def test_config_defaults_and_env_overrides() -> None:
    assert load_llm_config({}) == LLMConfig()
    config = load_llm_config(
        {
            "ROBOCOACH_ANTHROPIC_MODEL": "claude-x",
            "ROBOCOACH_ANTHROPIC_BASE_URL": "http://127.0.0.1:9/",
            "ROBOCOACH_OPENAI_TIMEOUT_S": "30",
            "ROBOCOACH_LLM_MAX_RETRIES": "0",
            "OLLAMA_HOST": "0.0.0.0:11500",
        }
    )
    assert (config.anthropic.model, config.anthropic.base_url) == ("claude-x", "http://127.0.0.1:9/")
    assert config.openai.timeout_s == 30.0 and config.max_retries == 0
    assert config.ollama.base_url == "http://127.0.0.1:11500"
    assert config.deepseek.base_url == "https://api.deepseek.com"
    assert load_llm_config({"OLLAMA_HOST": "myhost"}).ollama.base_url == "http://myhost:11434"
    assert (
        load_llm_config({"OLLAMA_HOST": "x", "ROBOCOACH_OLLAMA_BASE_URL": "http://y:1"}).ollama.base_url
        == "http://y:1"
    )


@pytest.mark.parametrize(
    "environ",
    [
        {"ROBOCOACH_OPENAI_BASE_URL": "api.openai.com"},
        {"ROBOCOACH_LLM_MAX_RETRIES": "many"},
        {"ROBOCOACH_GEMINI_TIMEOUT_S": "-1"},
    ],
)
def test_malformed_config_fails_loudly(environ: dict[str, str]) -> None:
    with pytest.raises(msgspec.ValidationError):
        load_llm_config(environ)
