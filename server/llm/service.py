"""The LLM layer's one entry point for the API: provider statuses, selection, keys, drafting and
revising.

Drafting is a repair loop: ask for a reward program and its success check, validate each, send the
errors of whichever failed back, and ask for corrected full programs, up to `max_attempts` times. A reward
that never validates is a ProviderError; a check that never validates is replaced by the built-in one.
Revising (reflection, after a job failed its check) is the same loop opened with what the evaluation saw;
when the provider fails, the built-in drafter revises instead. Providers are built per call from the
current config and keys, so a saved key takes effect at once and no client outlives a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, NamedTuple, Protocol

import msgspec

from server.checks.types import Reflection
from server.commands.types import CommandSpec, ScheduleReport
from server.commands.validate import check_schedule, check_schedule_text
from server.llm.builtin.commands import draft_schedule as draft_builtin_schedule
from server.llm.config import REMOTE_PROVIDERS, LLMConfig, RemoteProviderName
from server.llm.credentials import ENV_VARS, KeySource, KeyStore
from server.llm.prompt import (
    extract_check,
    extract_program,
    extract_schedule,
    reflection_message,
    repair_message,
    schedule_message,
    schedule_repair_message,
    schedule_system_prompt,
    system_prompt,
    task_message,
)
from server.llm.provider import ChatMessage, Provider, ProviderError, no_key_sentence
from server.llm.providers import build_provider
from server.llm.types import ProviderList, ProviderName, ProviderStatus, SaveApiKey, SelectProvider
from server.rewards.types import ProgramError, ValidationReport, Vocabulary
from server.settings import Settings
from server.storage.database import Database

log = logging.getLogger(__name__)

BUILTIN_LABEL = "Built-in templates (offline)"
BUILTIN_MODEL = "templates"
_PREFERENCE_KEY = "llm"  # row in the `preferences` table (migration 0001); no schema change needed

# (task, scene_id, vocabulary) -> program: the offline drafters in server/llm/builtin.py (the reward's
# draft_builtin, the check's draft_builtin_check).
BuiltinDrafter = Callable[[str, str, Vocabulary], str]
# program -> report: a validator run by the caller (it may need a scene worker); the reward's or the check's.
Validate = Callable[[str], Awaitable[ValidationReport]]
ProviderBuilder = Callable[[RemoteProviderName, LLMConfig, str | None], Provider]
CheckSource = Literal["provider", "builtin"]  # who wrote a draft's check


class BuiltinRevisionLike(Protocol):
    """What server/llm/builtin.py's revise_builtin returns (its BuiltinRevision)."""

    @property
    def program(self) -> str: ...

    @property
    def timesteps_factor(self) -> float: ...

    @property
    def notes(self) -> list[str]: ...


# (reflection, scene_id, vocabulary) -> revision: the offline drafter's deterministic revision.
BuiltinReviser = Callable[[Reflection, str, Vocabulary], BuiltinRevisionLike]


class DraftResult(msgspec.Struct, frozen=True, kw_only=True):
    program: str
    provider: ProviderName
    model: str
    attempts: int  # requests it took; 1 when the first reply validated
    report: ValidationReport  # ok for every LLM draft; the builtin's report is returned as it is
    check: str  # the success check (docs/CHECKS.md)
    check_report: ValidationReport  # its validation: ok, unless the built-in check itself failed
    check_source: CheckSource  # "builtin" for the builtin drafter, or when the provider's never validated
    notes: list[str] = msgspec.field(default_factory=list)  # sentences for people: why a fallback was used


class Revision(msgspec.Struct, frozen=True, kw_only=True):
    """A reward revised after a job failed its check (reflection), to be trained in the next round."""

    program: str
    check: str  # the check to train against: the failed job's, unless the model corrected it
    provider: ProviderName  # who revised: "builtin" after a provider failure too
    model: str
    attempts: int  # requests to the provider (0 when it was not asked)
    timesteps_factor: float  # the next round's budget relative to this one's (LLM revisions keep 1.0)
    notes: list[str]  # what changed or why a fallback was used, for people
    report: ValidationReport  # the revised program's validation
    check_report: ValidationReport


class _Programs(NamedTuple):
    """The outcome of a conversation's repair loop: the reward (always valid) and the check, if any
    reply held a valid one."""

    program: str
    report: ValidationReport
    check: str | None
    check_report: ValidationReport  # the valid check's, else the last failed one's
    attempts: int


_NO_CHECK = ValidationReport(
    ok=False,
    errors=[
        ProgramError(
            line=0,
            column=0,
            message="the reply held no check program: add a second ```python block that defines "
            "AT_LEAST and/or AT_MOST",
            stage="static",
        )
    ],
    terms=[],
)


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

    async def _built(self, name: RemoteProviderName) -> Provider:
        """`_provider` off the event loop: the first build imports the provider's SDK (anthropic's takes
        4 s of CPU, over 10 s on busy cores), which would freeze every request meanwhile."""
        return await asyncio.to_thread(self._provider, name)

    async def ollama_unreachable_reason(self) -> str | None:
        """None when an Ollama server answered within the last `probe_cache_s` seconds."""
        now = self._clock()
        if self._ollama_probe is None or now - self._ollama_probe[0] > self.config.probe_cache_s:
            reason = await (await self._built("ollama")).probe(self.config.probe_timeout_s)
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
            provider = await self._built(name)
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

    # ----- drafting and revising ----------------------------------------------------------------------

    async def _resolve(self, provider: ProviderName | None, model: str | None) -> tuple[ProviderName, str]:
        if provider is None:
            provider, default_model = await self.active()
            return provider, model or default_model
        if provider == "builtin":
            return provider, BUILTIN_MODEL
        return provider, model or self._model_for(provider, self._selection())

    async def draft(
        self,
        task: str,
        scene_id: str,
        vocabulary: Vocabulary,
        validate: Validate,
        *,
        validate_check: Validate,
        provider: ProviderName | None,
        model: str | None,
        builtin: BuiltinDrafter,
        builtin_check: BuiltinDrafter,
        max_attempts: int = 3,
    ) -> DraftResult:
        """A validated reward program and success check for `task`, or ProviderError when the provider
        failed or never wrote a valid reward (bad_output carries the last report). A provider's check
        that never validates is replaced by `builtin_check`'s, and the result says so."""
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        provider, model = await self._resolve(provider, model)
        if provider == "builtin":
            program = builtin(task, scene_id, vocabulary)
            check = builtin_check(task, scene_id, vocabulary)
            return DraftResult(
                program=program,
                provider="builtin",
                model=BUILTIN_MODEL,
                attempts=1,
                report=await validate(program),
                check=check,
                check_report=await validate_check(check),
                check_source="builtin",
            )
        adapter = await self._built(provider)
        log.info("Drafting a reward and check for %s with %s (%s)", scene_id, provider, model)
        found = await self._converse(
            adapter,
            model,
            self.config.provider(provider).timeout_s,
            vocabulary,
            task_message(task),
            validate,
            validate_check,
            max_attempts,
            "draft",
        )
        if found.check is not None:
            return DraftResult(
                program=found.program,
                provider=provider,
                model=model,
                attempts=found.attempts,
                report=found.report,
                check=found.check,
                check_report=found.check_report,
                check_source="provider",
            )
        check = builtin_check(task, scene_id, vocabulary)
        check_report = await validate_check(check)
        note = (
            f"{adapter.label} did not write a valid success check in {found.attempts} attempt"
            f"{'s' if found.attempts != 1 else ''}{_last_problem(found.check_report)}; "
            "the built-in check is used instead."
        )
        log.info("%s", note)
        return DraftResult(
            program=found.program,
            provider=provider,
            model=model,
            attempts=found.attempts,
            report=found.report,
            check=check,
            check_report=check_report,
            check_source="builtin",
            notes=[note],
        )

    async def revise(
        self,
        reflection: Reflection,
        scene_id: str,
        vocabulary: Vocabulary,
        validate: Validate,
        validate_check: Validate,
        *,
        provider: ProviderName | None,
        model: str | None,
        builtin_revise: BuiltinReviser,
        max_attempts: int = 3,
    ) -> Revision:
        """An improved reward for a job that failed its check. LLM providers are shown what the
        evaluation saw (Eureka-style reflection) and may also correct the check; when the provider fails
        in any way (unreachable, no key, output that never validates...), `builtin_revise` revises
        instead and the notes say why. Never raises ProviderError."""
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        provider, model = await self._resolve(provider, model)
        if provider == "builtin":
            return await self._revise_builtin(
                reflection, scene_id, vocabulary, validate, validate_check, builtin_revise, []
            )
        adapter = await self._built(provider)
        log.info(
            "Revising the reward for %s with %s (%s) after round %d",
            scene_id,
            provider,
            model,
            reflection.round,
        )
        try:
            found = await self._converse(
                adapter,
                model,
                self.config.provider(provider).timeout_s,
                vocabulary,
                reflection_message(reflection),
                validate,
                validate_check,
                max_attempts,
                "revision",
            )
        except ProviderError as exc:
            note = f"{exc.detail} The built-in drafter revised the reward instead."
            log.info("Revision by %s failed (%s); using the built-in revision", provider, exc.cause)
            return await self._revise_builtin(
                reflection, scene_id, vocabulary, validate, validate_check, builtin_revise, [note]
            )
        notes = [
            f"{adapter.label} ({model}) revised the reward from what round {reflection.round}'s "
            "evaluation saw."
        ]
        check, check_report = found.check, found.check_report
        if check is None:
            note = (
                f"{adapter.label}'s check did not validate{_last_problem(check_report)}; "
                "the previous check is kept."
            )
            notes.append(note)
            check, check_report = reflection.check, await validate_check(reflection.check)
        elif check.strip() != reflection.check.strip():
            notes.append(f"{adapter.label} also changed the success check.")
        return Revision(
            program=found.program,
            check=check,
            provider=provider,
            model=model,
            attempts=found.attempts,
            timesteps_factor=1.0,
            notes=notes,
            report=found.report,
            check_report=check_report,
        )

    async def draft_schedule(
        self,
        sentence: str,
        scene_id: str,
        spec: CommandSpec,
        *,
        provider: ProviderName | None = None,
        model: str | None = None,
        max_attempts: int = 2,
    ) -> tuple[ScheduleReport | None, list[str]]:
        """The command tier's draft: a checked command schedule for `sentence` on a scene whose policy
        follows `spec` (values clipped into range, each clip in the report), or None when the sentence
        is not a motion command; and notes for people. The active provider is asked for the schedule's
        JSON; when it fails or never answers a usable schedule, the built-in drafter writes it and a
        note says why. Never raises ProviderError."""
        provider, model = await self._resolve(provider, model)
        if provider == "builtin":
            return _builtin_schedule(sentence, spec), []
        adapter = await self._built(provider)
        log.info("Drafting a command schedule for %s with %s (%s)", scene_id, provider, model)
        system = schedule_system_prompt(spec)
        messages = [ChatMessage(role="user", content=schedule_message(sentence))]
        errors: list[str] = []
        try:
            for _attempt in range(max_attempts):
                reply = await adapter.complete(
                    system, messages, model, timeout_s=self.config.provider(provider).timeout_s
                )
                text = extract_schedule(reply)
                if text is None:
                    return None, [f"{adapter.label} ({model}) read the sentence as not a motion command."]
                report = check_schedule_text(text, spec)
                if report.ok:
                    return report, [f"{adapter.label} ({model}) wrote the command schedule."]
                errors = report.errors
                messages.append(ChatMessage(role="assistant", content=f"```json\n{text}\n```"))
                messages.append(ChatMessage(role="user", content=schedule_repair_message(errors)))
        except ProviderError as exc:
            note = f"{exc.detail} The built-in drafter wrote the command schedule instead."
            log.info("Schedule draft by %s failed (%s); using the built-in drafter", provider, exc.cause)
            return _builtin_schedule(sentence, spec), [note]
        note = (
            f"{adapter.label} did not write a usable command schedule in {max_attempts} attempt"
            f"{'s' if max_attempts != 1 else ''} (the last problem: {errors[0] if errors else 'none'}); "
            "the built-in drafter wrote it instead."
        )
        log.info("%s", note)
        return _builtin_schedule(sentence, spec), [note]

    async def _revise_builtin(
        self,
        reflection: Reflection,
        scene_id: str,
        vocabulary: Vocabulary,
        validate: Validate,
        validate_check: Validate,
        builtin_revise: BuiltinReviser,
        notes: list[str],
    ) -> Revision:
        revised = builtin_revise(reflection, scene_id, vocabulary)
        return Revision(
            program=revised.program,
            check=reflection.check,
            provider="builtin",
            model=BUILTIN_MODEL,
            attempts=0,
            timesteps_factor=revised.timesteps_factor,
            notes=notes + list(revised.notes),
            report=await validate(revised.program),
            check_report=await validate_check(reflection.check),
        )

    async def _converse(
        self,
        adapter: Provider,
        model: str,
        timeout_s: float,
        vocabulary: Vocabulary,
        opening: str,
        validate: Validate,
        validate_check: Validate,
        max_attempts: int,
        what: str,
    ) -> _Programs:
        """The repair loop: ask, validate both programs, send back the errors of whichever failed, until
        both are valid or `max_attempts` replies came. The latest valid version of each program wins
        (they are independent). Raises ProviderError when no reply held a valid reward."""
        name = adapter.name
        system = system_prompt(vocabulary)
        messages = [ChatMessage(role="user", content=opening)]
        program, report = "", ValidationReport(ok=False, errors=[], terms=[])
        good: tuple[str, ValidationReport] | None = None
        check: tuple[str, ValidationReport] | None = None
        check_report = _NO_CHECK
        for attempt in range(1, max_attempts + 1):
            reply = await adapter.complete(system, messages, model, timeout_s=timeout_s)
            program, check_source = extract_program(reply), extract_check(reply)
            report = await validate(program)
            check_report = await validate_check(check_source) if check_source else _NO_CHECK
            if report.ok:
                good = (program, report)
            if check_report.ok:
                check = (check_source, check_report)
            if good is not None and check is not None:
                return _Programs(good[0], good[1], check[0], check[1], attempt)
            log.info(
                "Attempt %d of the %s from %s failed validation: reward %d error(s), check %d error(s)",
                attempt,
                what,
                name,
                len(report.errors),
                len(check_report.errors),
            )
            # Send back the programs themselves, not the chatter around them: shorter, and what the
            # errors refer to.
            shown = f"```python\n{program}```"
            if check_source:
                shown += f"\n\n```python\n{check_source}```"
            messages.append(ChatMessage(role="assistant", content=shown))
            messages.append(
                ChatMessage(
                    role="user",
                    content=repair_message(
                        None if report.ok else report, None if check_report.ok else check_report
                    ),
                )
            )
        if good is not None:
            return _Programs(good[0], good[1], None, check_report, max_attempts)
        raise ProviderError(
            name,
            "bad_output",
            f"{adapter.label} did not write a valid reward program in {max_attempts} attempt"
            f"{'s' if max_attempts != 1 else ''}.{_last_problem(report, sentence=True)} Try rewording the "
            "task, another model, or the built-in drafter.",
            report=report,
            program=program,
        )


def _builtin_schedule(sentence: str, spec: CommandSpec) -> ScheduleReport | None:
    schedule = draft_builtin_schedule(sentence, spec)
    return None if schedule is None else check_schedule(schedule, spec)


def _last_problem(report: ValidationReport, *, sentence: bool = False) -> str:
    if not report.errors:
        return ""
    first = report.errors[0]
    if sentence:
        return f" The last problem: line {first.line}: {first.message}"
    return f" (last problem: line {first.line}: {first.message})"
