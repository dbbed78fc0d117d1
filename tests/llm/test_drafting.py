"""Drafting through the real SDK clients against stub servers: success, each failure cause, the repair loop
for the reward and for its success check, and the built-in check when the provider's never validates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from server.llm.provider import ProviderError
from server.llm.service import DraftResult, LLMService
from server.rewards.types import Vocabulary
from tests.llm.conftest import (
    BAD_CHECK,
    BAD_CHECK_ERROR,
    BAD_ERROR,
    BAD_PROGRAM,
    CLOUD,
    ENV_VAR,
    GOOD_CHECK,
    GOOD_PROGRAM,
    KEY,
    WIRES,
    fake_builtin,
    fake_builtin_check,
    fake_validate,
    fake_validate_check,
)
from tests.llm.stubs import Reply, StubServer, Wire

TASK = "make the dog walk backwards"


def fenced(program: str, check: str | None = GOOD_CHECK) -> str:
    """A reply as models write it: chatter, the reward's block, then the check's block (if any)."""
    text = f"Here is a reward program for that.\n\n```python\n{program}```\n\nIt rewards moving backwards."
    if check is not None:
        text += f"\n\nAnd the success check:\n\n```python\n{check}```\n"
    return text


def draft(service: LLMService, vocabulary: Vocabulary, provider: Any, **kwargs: Any) -> DraftResult:
    return asyncio.run(
        service.draft(
            TASK,
            vocabulary.scene_id,
            vocabulary,
            fake_validate,
            validate_check=fake_validate_check,
            provider=provider,
            model=kwargs.pop("model", None),
            builtin=fake_builtin,
            builtin_check=fake_builtin_check,
            **kwargs,
        )
    )


def failure(service: LLMService, vocabulary: Vocabulary, provider: Any, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        draft(service, vocabulary, provider, **kwargs)
    error = caught.value
    assert KEY not in str(error) and KEY not in repr(error.failure)
    return error


@pytest.fixture(params=CLOUD)
def cloud(
    request: pytest.FixtureRequest,
    stubs: Callable[[Wire], StubServer],
    make_service: Callable[..., LLMService],
) -> tuple[str, StubServer, LLMService]:
    """(provider, its stub, a service with a key for it in the environment)."""
    name = request.param
    stub = stubs(WIRES[name])
    return name, stub, make_service({name: stub.url}, {ENV_VAR[name]: KEY})


def test_success_sends_prompt_key_and_model(
    cloud: tuple[str, StubServer, LLMService], vocabulary: Vocabulary
) -> None:
    name, stub, service = cloud
    stub.queue(Reply(text=fenced(GOOD_PROGRAM)))
    result = draft(service, vocabulary, name)
    assert result.program == GOOD_PROGRAM
    assert (result.provider, result.attempts, result.report.ok) == (name, 1, True)
    assert (result.check, result.check_report.ok, result.check_source) == (GOOD_CHECK, True, "provider")
    assert result.notes == []
    assert result.model == service.config.provider(name).model  # type: ignore[arg-type]
    [sent] = stub.chats()
    assert sent.body["model"] == result.model
    assert TASK in sent.text and "base_lin_vel" in sent.text  # task and the scene's vocabulary
    assert "AT_LEAST = dict(" in sent.text and "two ```python code blocks" in sent.text
    if name == "anthropic":
        # anthropic 2.x sends the key as a bearer token; older SDKs used x-api-key.
        sent_key = sent.headers.get("x-api-key") or sent.headers["authorization"].removeprefix("Bearer ")
        assert sent_key == KEY
        assert sent.body["max_tokens"] == service.config.anthropic.max_tokens
        assert "WEIGHTS" in sent.body["system"]
    else:
        assert sent.headers["authorization"] == f"Bearer {KEY}"
        assert sent.body["messages"][0]["role"] == "system"


def test_model_override(cloud: tuple[str, StubServer, LLMService], vocabulary: Vocabulary) -> None:
    name, stub, service = cloud
    stub.queue(Reply(text=fenced(GOOD_PROGRAM)))
    assert draft(service, vocabulary, name, model="my-model").model == "my-model"
    assert stub.chats()[0].body["model"] == "my-model"


@pytest.mark.parametrize(
    ("status", "cause"), [(401, "bad_key"), (403, "bad_key"), (429, "rate_limited"), (500, "error")]
)
def test_http_errors_map_to_causes(
    cloud: tuple[str, StubServer, LLMService], vocabulary: Vocabulary, status: int, cause: str
) -> None:
    name, stub, service = cloud
    stub.queue(Reply(status=status))  # the stub echoes the key in its error text
    error = failure(service, vocabulary, name)
    assert (error.provider, error.cause) == (name, cause)
    assert error.failure.fallback == "builtin"
    assert str(status) in str(error)
    label = {"anthropic": "Claude", "openai": "OpenAI", "deepseek": "DeepSeek", "gemini": "Gemini"}[name]
    assert label in str(error)
    assert len(stub.chats()) == 1  # max_retries=0: the cause is reported at once


def test_gemini_bad_key_is_http_400(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    stub = stubs("openai")
    body = [
        {
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [{"reason": "API_KEY_INVALID"}],
            }
        }
    ]
    stub.queue(Reply(status=400, body=body))
    service = make_service({"gemini": stub.url}, {"GOOGLE_API_KEY": KEY})
    assert failure(service, vocabulary, "gemini").cause == "bad_key"


def test_timeout(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    for name in CLOUD:
        stub = stubs(WIRES[name])
        stub.queue(Reply(text=fenced(GOOD_PROGRAM), delay_s=3.0))
        service = make_service({name: stub.url}, {ENV_VAR[name]: KEY}, timeout_s=0.3)
        started = time.monotonic()
        error = failure(service, vocabulary, name)
        assert error.cause == "timeout", (name, str(error))
        assert "0.3 s" in str(error)
        assert time.monotonic() - started < 2.5  # gave up on time, did not wait for the stub


def test_unreachable(make_service: Callable[..., LLMService], vocabulary: Vocabulary) -> None:
    for name in CLOUD:
        service = make_service({}, {ENV_VAR[name]: KEY})  # every base URL is a closed port
        error = failure(service, vocabulary, name)
        assert error.cause == "unreachable", (name, str(error))
        assert "Could not connect" in str(error) and "127.0.0.1" in str(error)


def test_no_key_fails_before_any_request(
    cloud: tuple[str, StubServer, LLMService], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    name, stub, _ = cloud
    service = make_service({name: stub.url}, {})
    error = failure(service, vocabulary, name)
    assert error.cause == "no_key"
    assert ENV_VAR[name] in str(error)
    assert stub.requests == []


def test_repair_loop_sends_errors_back(
    cloud: tuple[str, StubServer, LLMService], vocabulary: Vocabulary
) -> None:
    name, stub, service = cloud
    stub.queue(Reply(text=fenced(BAD_PROGRAM)), Reply(text=fenced(GOOD_PROGRAM)))
    result = draft(service, vocabulary, name)
    assert (result.attempts, result.program, result.report.ok) == (2, GOOD_PROGRAM, True)
    assert (result.check, result.check_source) == (GOOD_CHECK, "provider")
    first, second = stub.chats()
    assert BAD_ERROR not in first.text
    assert BAD_ERROR in second.text and "line 7" in second.text  # `foo` is on line 7 of BAD_PROGRAM
    assert "foo" in second.text  # the model sees its own previous program
    assert "The check program was accepted" in second.text
    # The conversation grows by the assistant's program and the user's repair request.
    messages = second.body["messages"]
    assert [m["role"] for m in messages][-3:] == ["user", "assistant", "user"]


def test_never_valid_is_bad_output(cloud: tuple[str, StubServer, LLMService], vocabulary: Vocabulary) -> None:
    name, stub, service = cloud
    stub.default = Reply(text=fenced(BAD_PROGRAM))
    error = failure(service, vocabulary, name, max_attempts=3)
    assert error.cause == "bad_output"
    assert len(stub.chats()) == 3
    assert error.report is not None and not error.report.ok
    assert error.report.errors[0].message == BAD_ERROR
    assert error.program == BAD_PROGRAM
    assert "3 attempts" in str(error) and "line 7" in str(error)


def test_raw_code_reply_with_chatter_and_no_check(
    cloud: tuple[str, StubServer, LLMService], vocabulary: Vocabulary
) -> None:
    name, stub, service = cloud
    stub.queue(
        Reply(text="Sure! Here it is:\n" + GOOD_PROGRAM + "\nLet me know if you need changes."),
        Reply(text=fenced(GOOD_PROGRAM)),
    )
    result = draft(service, vocabulary, name)
    assert result.attempts == 2 and result.program == GOOD_PROGRAM and result.check == GOOD_CHECK
    repair = stub.chats()[1].text
    assert "held no check program" in repair and "The reward program was accepted" in repair


def test_invalid_check_is_repaired(cloud: tuple[str, StubServer, LLMService], vocabulary: Vocabulary) -> None:
    name, stub, service = cloud
    stub.queue(Reply(text=fenced(GOOD_PROGRAM, BAD_CHECK)), Reply(text=fenced(GOOD_PROGRAM, GOOD_CHECK)))
    result = draft(service, vocabulary, name)
    assert (result.attempts, result.program, result.check) == (2, GOOD_PROGRAM, GOOD_CHECK)
    assert (result.check_report.ok, result.check_source, result.notes) == (True, "provider", [])
    first, second = stub.chats()
    assert BAD_CHECK_ERROR not in first.text
    # The check's own error, located within the check's block (`bar` is on its line 12), and both
    # programs in the assistant turn.
    assert "rejected the check program" in second.text and BAD_CHECK_ERROR in second.text
    assert "line 12" in second.text and "The reward program was accepted" in second.text
    assistant = second.body["messages"][-2]
    content = (
        assistant["content"] if isinstance(assistant["content"], str) else assistant["content"][0]["text"]
    )
    assert "WEIGHTS = dict(" in content and "jnp.min(bar)" in content


def test_check_that_never_validates_is_replaced_by_the_builtin(
    cloud: tuple[str, StubServer, LLMService], vocabulary: Vocabulary
) -> None:
    name, stub, service = cloud
    stub.default = Reply(text=fenced(GOOD_PROGRAM, BAD_CHECK))
    result = draft(service, vocabulary, name, max_attempts=3)
    assert len(stub.chats()) == 3
    assert (result.program, result.report.ok, result.provider, result.attempts) == (
        GOOD_PROGRAM,
        True,
        name,
        3,
    )
    assert result.check == fake_builtin_check(TASK, vocabulary.scene_id, vocabulary)
    assert (result.check_source, result.check_report.ok) == ("builtin", True)
    [note] = result.notes
    assert "built-in check is used" in note and "3 attempts" in note and BAD_CHECK_ERROR in note


# ----- Ollama and the builtin drafter -----------------------------------------------------------------


def test_ollama_draft(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    stub = stubs("ollama")
    stub.queue(Reply(text=fenced(BAD_PROGRAM)), Reply(text="<think>hmm</think>\n" + fenced(GOOD_PROGRAM)))
    service = make_service({"ollama": stub.url})
    result = draft(service, vocabulary, None)  # the default provider: Ollama answers
    assert (result.provider, result.model, result.attempts) == ("ollama", "qwen2.5-coder:7b", 2)
    assert BAD_ERROR in stub.chats()[1].text
    assert stub.chats()[0].body["messages"][0]["role"] == "system"


def test_ollama_missing_model(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    stub = stubs("ollama")
    stub.queue(Reply(status=404, body={"error": "model 'nope' not found"}))
    error = failure(make_service({"ollama": stub.url}), vocabulary, "ollama", model="nope")
    assert error.cause == "error" and "ollama pull nope" in str(error)


def test_ollama_down_and_slow(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: Vocabulary
) -> None:
    assert failure(make_service(), vocabulary, "ollama").cause == "unreachable"
    stub = stubs("ollama")
    stub.queue(Reply(text="x", delay_s=3.0))
    assert failure(make_service({"ollama": stub.url}, timeout_s=0.3), vocabulary, "ollama").cause == "timeout"


def test_builtin_is_one_attempt(make_service: Callable[..., LLMService], vocabulary: Vocabulary) -> None:
    result = draft(make_service(), vocabulary, None)  # no Ollama: the builtin drafter is the default
    assert (result.provider, result.model, result.attempts, result.report.ok) == (
        "builtin",
        "templates",
        1,
        True,
    )
    assert "Go1JoystickFlatTerrain (builtin)" in result.program
    assert "Go1JoystickFlatTerrain (builtin check)" in result.check
    assert (result.check_source, result.check_report.ok) == ("builtin", True)


def test_cloud_probe(
    cloud: tuple[str, StubServer, LLMService], make_service: Callable[..., LLMService]
) -> None:
    """Cloud providers are probed only on request (never when listing): models list, no tokens spent."""
    name, stub, service = cloud
    assert asyncio.run(service._provider(name).probe(2.0)) is None  # type: ignore[arg-type]
    assert [r.path.split("?")[0] for r in stub.requests] == ["/v1/models"]
    no_key = make_service({name: stub.url}, {})
    assert ENV_VAR[name] in (asyncio.run(no_key._provider(name).probe(2.0)) or "")  # type: ignore[arg-type]
    down = make_service({}, {ENV_VAR[name]: KEY})
    assert "Could not connect" in (asyncio.run(down._provider(name).probe(2.0)) or "")  # type: ignore[arg-type]
