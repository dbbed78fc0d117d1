"""Provider listing, default and selected provider, key storage, and that no key leaks anywhere."""

from __future__ import annotations

import asyncio
import logging
import stat
import typing
from collections.abc import Callable

import msgspec
import pytest

from server.llm.credentials import KEY_FILE_NAME, InvalidApiKeyError
from server.llm.provider import FailureCause, ProviderError
from server.llm.service import LLMService
from server.llm.types import ProviderFailure, ProviderName, SaveApiKey, SelectProvider
from server.settings import Settings
from tests.llm.conftest import (
    CLOUD,
    ENV_VAR,
    GOOD_CHECK,
    GOOD_PROGRAM,
    KEY,
    fake_builtin,
    fake_builtin_check,
    fake_validate,
    fake_validate_check,
)
from tests.llm.stubs import Reply, StubServer, Wire


def statuses(service: LLMService) -> dict[str, typing.Any]:
    listing = asyncio.run(service.providers())
    return {"active": listing.active, **{p.name: p for p in listing.providers}}


def test_failure_causes_match_the_contract() -> None:
    contract = typing.get_type_hints(ProviderFailure)["cause"]
    assert set(typing.get_args(contract)) == set(typing.get_args(FailureCause))


def test_builtin_is_default_without_ollama(make_service: Callable[..., LLMService]) -> None:
    listing = statuses(make_service())
    assert listing["active"] == "builtin"
    assert listing["builtin"].active and listing["builtin"].reachable
    ollama = listing["ollama"]
    assert (ollama.reachable, ollama.configured, ollama.needs_key) == (False, True, False)
    assert "Could not connect" in ollama.detail and "ollama serve" in ollama.detail
    for name in CLOUD:  # not probed, no key
        cloud = listing[name]
        assert (cloud.reachable, cloud.configured, cloud.key_source) == (None, False, "none")
        assert ENV_VAR[name] in cloud.detail


def test_ollama_is_default_when_it_answers_and_probe_is_cached(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService]
) -> None:
    stub = stubs("ollama")
    service = make_service({"ollama": stub.url})
    listing = statuses(service)
    assert listing["active"] == "ollama" and listing["ollama"].reachable and listing["ollama"].active
    assert listing["ollama"].model == "qwen2.5-coder:7b"
    statuses(service)
    assert [r.path for r in stub.requests] == ["/api/tags"]  # the second listing used the cached probe


def test_selection_overrides_default_and_persists(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService]
) -> None:
    stub = stubs("ollama")
    service = make_service({"ollama": stub.url}, {"ANTHROPIC_API_KEY": KEY})
    listing = asyncio.run(service.select(SelectProvider(provider="anthropic", model="claude-test")))
    assert listing.active == "anthropic"
    anthropic = next(p for p in listing.providers if p.name == "anthropic")
    assert (anthropic.active, anthropic.model, anthropic.key_source, anthropic.configured) == (
        True,
        "claude-test",
        "environment",
        True,
    )
    again = make_service({"ollama": stub.url}, {"ANTHROPIC_API_KEY": KEY})  # same database: a restart
    assert asyncio.run(again.active()) == ("anthropic", "claude-test")
    asyncio.run(again.select(SelectProvider(provider="builtin")))
    assert asyncio.run(again.active()) == ("builtin", "templates")


def test_selected_provider_is_used_for_drafting(
    stubs: Callable[[Wire], StubServer], make_service: Callable[..., LLMService], vocabulary: typing.Any
) -> None:
    stub = stubs("openai")
    stub.queue(Reply(text=f"```python\n{GOOD_PROGRAM}```\n```python\n{GOOD_CHECK}```"))
    service = make_service({"deepseek": stub.url}, {"DEEPSEEK_API_KEY": KEY})
    asyncio.run(service.select(SelectProvider(provider="deepseek", model="deepseek-reasoner")))
    result = asyncio.run(
        service.draft(
            "jump",
            "Go1",
            vocabulary,
            fake_validate,
            validate_check=fake_validate_check,
            provider=None,
            model=None,
            builtin=fake_builtin,
            builtin_check=fake_builtin_check,
        )
    )
    assert (result.provider, result.model) == ("deepseek", "deepseek-reasoner")
    assert stub.chats()[0].body["model"] == "deepseek-reasoner"


def test_saved_key_file_is_owner_only_and_wins_over_environment(
    make_service: Callable[..., LLMService], settings: Settings
) -> None:
    service = make_service(environ={"OPENAI_API_KEY": "sk-from-environment-000000"})
    assert statuses(service)["openai"].key_source == "environment"
    asyncio.run(service.save_key(SaveApiKey(provider="openai", api_key=f"  {KEY}\n")))  # pasted with spaces
    path = settings.data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert msgspec.json.decode(path.read_bytes()) == {"openai": KEY}
    assert service.keys.get("openai") == (KEY, "saved")
    assert statuses(service)["openai"].key_source == "saved"
    assert [
        p.name for p in settings.data_dir.iterdir() if p.name.startswith(".llm_keys")
    ] == []  # no temp left
    asyncio.run(service.forget_key("openai"))
    assert service.keys.get("openai") == ("sk-from-environment-000000", "environment")


def test_widened_key_file_is_tightened_with_a_warning(
    make_service: Callable[..., LLMService], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service()
    asyncio.run(service.save_key(SaveApiKey(provider="gemini", api_key=KEY)))
    path = settings.data_dir / KEY_FILE_NAME
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert service.keys.get("gemini") == (KEY, "saved")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "readable by other users" in caplog.text and KEY not in caplog.text


def test_unusable_keys_are_refused(make_service: Callable[..., LLMService]) -> None:
    service = make_service()
    with pytest.raises(InvalidApiKeyError):
        asyncio.run(service.save_key(SaveApiKey(provider="ollama", api_key=KEY)))
    with pytest.raises(InvalidApiKeyError):
        asyncio.run(service.save_key(SaveApiKey(provider="openai", api_key="sk-one two")))


def test_key_never_in_api_bodies_logs_or_errors(
    stubs: Callable[[Wire], StubServer],
    make_service: Callable[..., LLMService],
    vocabulary: typing.Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every path a key travels, with every logger (the SDKs' and httpx's included) at DEBUG."""
    anthropic, openai = stubs("anthropic"), stubs("openai")
    service = make_service({"anthropic": anthropic.url, "openai": openai.url})
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        names: tuple[ProviderName, ...] = ("anthropic", "openai")
        for name in names:
            asyncio.run(service.save_key(SaveApiKey(provider=name, api_key=KEY)))
        texts.append(msgspec.json.encode(asyncio.run(service.providers())).decode())
        both = f"```python\n{GOOD_PROGRAM}```\n```python\n{GOOD_CHECK}```"
        anthropic.queue(Reply(text=both), Reply(status=401), Reply(status=500))
        openai.queue(Reply(text=both), Reply(status=403), Reply(status=502))
        for name in names:
            result = asyncio.run(
                service.draft(
                    "t",
                    "Go1",
                    vocabulary,
                    fake_validate,
                    validate_check=fake_validate_check,
                    provider=name,
                    model=None,
                    builtin=fake_builtin,
                    builtin_check=fake_builtin_check,
                )
            )
            texts.append(msgspec.json.encode(result).decode())
            for _ in range(2):  # an auth failure, then a server error whose text echoes the key
                with pytest.raises(ProviderError) as caught:
                    asyncio.run(
                        service.draft(
                            "t",
                            "Go1",
                            vocabulary,
                            fake_validate,
                            validate_check=fake_validate_check,
                            provider=name,
                            model=None,
                            builtin=fake_builtin,
                            builtin_check=fake_builtin_check,
                        )
                    )
                error = caught.value
                texts += [
                    str(error),
                    repr(error),
                    msgspec.json.encode(error.failure).decode(),
                    repr(error.__cause__),
                ]
        texts.append(
            repr(service.keys) + repr(service._provider("anthropic")) + repr(service._provider("openai"))
        )
    texts.append(caplog.text)
    assert "Request options" in caplog.text  # the SDKs' own DEBUG records were captured too
    assert any("failure 500" in t for t in texts)  # the echoed server text did come through, redacted
    for text in texts:
        assert KEY not in text
        assert "SECRET-0123456789" not in text  # nor a recognisable part of it
