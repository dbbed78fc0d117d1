"""The prompt's content and size, reading programs out of replies, and configuration from env vars."""

from __future__ import annotations

import msgspec
import pytest

from server.llm.config import LLMConfig, load_llm_config
from server.llm.prompt import extract_program, repair_message, system_prompt, task_message
from server.rewards.types import ProgramError, ValidationReport, Vocabulary, VocabularyEntry
from tests.llm.conftest import GOOD_PROGRAM


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
        "exactly one ```python code block",
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
    assert "complete program" in message


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
