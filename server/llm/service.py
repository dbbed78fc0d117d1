"""The LLM layer's one entry point for the API: provider statuses, selection, keys, and drafting.

Drafting is a repair loop: ask for a program, validate it, send the validator's errors back, and ask for
a corrected full program, up to `max_attempts` times. Providers are built per call from the current
config and keys, so a saved key takes effect at once and no client outlives a request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import NamedTuple

import msgspec

from server.llm.config import REMOTE_PROVIDERS, LLMConfig, RemoteProviderName
from server.llm.credentials import ENV_VARS, KeySource, KeyStore
from server.llm.prompt import extract_program, repair_message, system_prompt, task_message
from server.llm.provider import ChatMessage, Provider, ProviderError, no_key_sentence
from server.llm.providers import build_provider
from server.llm.types import ProviderList, ProviderName, ProviderStatus, SaveApiKey, SelectProvider
from server.rewards.types import ValidationReport, Vocabulary
from server.settings import Settings
from server.storage.database import Database

log = logging.getLogger(__name__)

BUILTIN_LABEL = "Built-in templates (offline)"
BUILTIN_MODEL = "templates"
_PREFERENCE_KEY = "llm"  # row in the `preferences` table (migration 0001); no schema change needed

# (task, scene_id, vocabulary) -> program: the offline drafter in server/llm/builtin.py.
BuiltinDrafter = Callable[[str, str, Vocabulary], str]
# program -> report: the reward validator, run by the caller (it may need a scene worker).
Validate = Callable[[str], Awaitable[ValidationReport]]
ProviderBuilder = Callable[[RemoteProviderName, LLMConfig, str | None], Provider]


class DraftResult(msgspec.Struct, frozen=True, kw_only=True):
    program: str
    provider: ProviderName
    model: str
    attempts: int  # requests it took; 1 when the first program validated
    report: ValidationReport  # ok for every LLM draft; the builtin's report is returned as it is


class Active(NamedTuple):
    provider: ProviderName
    model: str


class _Selection(msgspec.Struct, frozen=True, kw_only=True):
    provider: ProviderName
    model: str | None = None


class LLMService:
    def __init__(
        self,
        settings: Settings,
        config: LLMConfig,
        database: Database,
        *,
        environ: Mapping[str, str] | None = None,
        provider_builder: ProviderBuilder = build_provider,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.keys = KeyStore(settings.data_dir, environ)
        self._database = database
        self._build = provider_builder
        self._clock = clock
        self._ollama_probe: tuple[float, str | None] | None = None  # (checked at, reason)

    # ----- selection and status -----------------------------------------------------------------

    def _selection(self) -> _Selection | None:
        rows = self._database.query("SELECT value FROM preferences WHERE key = ?", (_PREFERENCE_KEY,))
        if not rows:
            return None
        try:
            return msgspec.json.decode(rows[0]["value"], type=_Selection)
        except msgspec.ValidationError:
            return None  # written by another version: fall back to the default choice

    def _model_for(self, name: ProviderName, selection: _Selection | None) -> str:
        if name == "builtin":
            return BUILTIN_MODEL
        if selection is not None and selection.provider == name and selection.model:
            return selection.model
        return self.config.provider(name).model

    def _provider(self, name: RemoteProviderName) -> Provider:
        key, _source = self.keys.get(name)
        return self._build(name, self.config, key)

    async def ollama_unreachable_reason(self) -> str | None:
        """None when an Ollama server answered within the last `probe_cache_s` seconds."""
        now = self._clock()
        if self._ollama_probe is None or now - self._ollama_probe[0] > self.config.probe_cache_s:
            reason = await self._provider("ollama").probe(self.config.probe_timeout_s)
            self._ollama_probe = (self._clock(), reason)
        return self._ollama_probe[1]

    async def active(self) -> Active:
        """The user's choice if any; else Ollama whenever a server answers; else the builtin drafter."""
        selection = self._selection()
        if selection is not None:
            return Active(selection.provider, self._model_for(selection.provider, selection))
        if await self.ollama_unreachable_reason() is None:
            return Active("ollama", self._model_for("ollama", None))
        return Active("builtin", BUILTIN_MODEL)

    async def providers(self) -> ProviderList:
        selection = self._selection()
        ollama_reason = await self.ollama_unreachable_reason()
        active = await self.active()
        statuses = [
            ProviderStatus(
                name="builtin",
                label=BUILTIN_LABEL,
                model=BUILTIN_MODEL,
                needs_key=False,
                configured=True,
                key_source="none",
                reachable=True,
                active=active.provider == "builtin",
                detail="",
            )
        ]
        for name in REMOTE_PROVIDERS:
            provider = self._provider(name)
            source: KeySource = "none"
            reachable: bool | None
            if name == "ollama":
                configured, reachable, detail = True, ollama_reason is None, ollama_reason or ""
            else:
                key, source = self.keys.get(name)
                configured, reachable = key is not None, None  # cloud services are only checked on use
                detail = "" if configured else no_key_sentence(provider.label, ENV_VARS.get(name, ()))
            statuses.append(
                ProviderStatus(
                    name=name,
                    label=provider.label,
                    model=self._model_for(name, selection),
                    needs_key=provider.needs_key,
                    configured=configured,
                    key_source=source,
                    reachable=reachable,
                    active=active.provider == name,
                    detail=detail,
                )
            )
        return ProviderList(active=active.provider, providers=statuses)

    async def select(self, request: SelectProvider) -> ProviderList:
        selection = _Selection(provider=request.provider, model=request.model)
        with self._database.transaction() as connection:
            connection.execute(
                "INSERT INTO preferences (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (_PREFERENCE_KEY, msgspec.json.encode(selection).decode()),
            )
        log.info(
            "LLM provider selected: %s (%s)", request.provider, self._model_for(request.provider, selection)
        )
        return await self.providers()

    async def save_key(self, request: SaveApiKey) -> ProviderList:
        """Raises credentials.InvalidApiKeyError (a ValueError) for a provider without keys or a bad paste."""
        self.keys.save(request.provider, request.api_key)
        return await self.providers()

    async def forget_key(self, provider: ProviderName) -> ProviderList:
        self.keys.forget(provider)
        return await self.providers()

    # ----- drafting -------------------------------------------------------------------------------

    async def draft(
        self,
        task: str,
        scene_id: str,
        vocabulary: Vocabulary,
        validate: Validate,
        *,
        provider: ProviderName | None,
        model: str | None,
        builtin: BuiltinDrafter,
        max_attempts: int = 3,
    ) -> DraftResult:
        """A validated program for `task`, or ProviderError (bad_output carries the last report)."""
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        if provider is None:
            provider, default_model = await self.active()
            model = model or default_model
        if provider == "builtin":
            program = builtin(task, scene_id, vocabulary)
            report = await validate(program)
            return DraftResult(
                program=program, provider="builtin", model=BUILTIN_MODEL, attempts=1, report=report
            )
        model = model or self._model_for(provider, self._selection())
        adapter = self._provider(provider)
        timeout_s = self.config.provider(provider).timeout_s
        system = system_prompt(vocabulary)
        messages = [ChatMessage(role="user", content=task_message(task))]
        program, report = "", ValidationReport(ok=False, errors=[], terms=[])
        for attempt in range(1, max_attempts + 1):
            log.info("Drafting a reward for %s with %s (%s), attempt %d", scene_id, provider, model, attempt)
            reply = await adapter.complete(system, messages, model, timeout_s=timeout_s)
            program = extract_program(reply)
            report = await validate(program)
            if report.ok:
                return DraftResult(
                    program=program, provider=provider, model=model, attempts=attempt, report=report
                )
            log.info(
                "Attempt %d from %s failed validation with %d error(s)", attempt, provider, len(report.errors)
            )
            # Send back the program itself, not the chatter around it: shorter, and what the errors refer to.
            messages.append(ChatMessage(role="assistant", content=f"```python\n{program}```"))
            messages.append(ChatMessage(role="user", content=repair_message(report)))
        first = report.errors[0] if report.errors else None
        last_problem = f" The last problem: line {first.line}: {first.message}" if first else ""
        raise ProviderError(
            provider,
            "bad_output",
            f"{adapter.label} did not write a valid reward program in {max_attempts} attempt"
            f"{'s' if max_attempts != 1 else ''}.{last_problem} Try rewording the task, another model, "
            "or the built-in drafter.",
            report=report,
            program=program,
        )
