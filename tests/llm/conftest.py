"""Fixtures: stub servers, an LLMService wired to them, fake validators and drafters, a small vocabulary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest

from server.checks.types import CheckResult, FigureResult, Reflection, TermStats
from server.llm.config import LLMConfig, ProviderConfig, RemoteProviderName
from server.llm.service import LLMService
from server.rewards.types import ProgramError, ValidationReport, Vocabulary, VocabularyEntry
from server.settings import Settings, load_settings
from server.storage.database import Database
from tests.llm.stubs import StubServer, Wire, dead_url

KEY = "sk-test-SECRET-0123456789abcdef"  # never to appear in a message, log or API body
WIRES: dict[RemoteProviderName, Wire] = {
    "ollama": "ollama",
    "anthropic": "anthropic",
    "openai": "openai",
    "deepseek": "openai",
    "gemini": "openai",
}
CLOUD: list[RemoteProviderName] = ["anthropic", "openai", "deepseek", "gemini"]
ENV_VAR = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "deepseek": "DEEPSEEK_API_KEY"}
ENV_VAR["gemini"] = "GEMINI_API_KEY"

GOOD_PROGRAM = '''"""Walk backwards."""

WEIGHTS = dict(backward=1.0, effort=-0.001)


def backward(s):
    return exp_kernel(s.base_lin_vel[0] + 0.5, 0.25)


def effort(s):
    return jnp.sum(jnp.square(s.action))
'''
BAD_PROGRAM = GOOD_PROGRAM.replace("s.base_lin_vel[0]", "foo")
BAD_ERROR = "name 'foo' is not defined: read the robot state as s.<entry>"


async def fake_validate(program: str) -> ValidationReport:
    """Stands in for server/rewards' validator: rejects programs that read `foo` or lack WEIGHTS."""
    errors = []
    if "WEIGHTS" not in program:
        errors.append(ProgramError(line=0, column=0, message="the program has no WEIGHTS", stage="static"))
    if "foo" in program:
        line = program[: program.index("foo")].count("\n") + 1
        errors.append(ProgramError(line=line, column=20, message=BAD_ERROR, stage="static"))
    return ValidationReport(ok=not errors, errors=errors, terms=[])


def fake_builtin(task: str, scene_id: str, vocabulary: Vocabulary) -> str:
    return f'"""{task} on {scene_id} (builtin)."""\n' + GOOD_PROGRAM.split('"""\n', 2)[-1]


GOOD_CHECK = '''"""Check: walk backwards without falling."""

AT_LEAST = dict(never_fell=1.0)
AT_MOST = dict(forward_speed=-0.3)


def forward_speed(s):
    return jnp.mean(s.base_lin_vel[:, 0])


def never_fell(s):
    return jnp.min(s.alive)
'''
BAD_CHECK = GOOD_CHECK.replace("s.alive", "bar")
BAD_CHECK_ERROR = "name 'bar' is not defined: a figure reads the episode as s.<entry>"


async def fake_validate_check(source: str) -> ValidationReport:
    """Stands in for the check validator: rejects checks without requirements or that read `bar`."""
    errors = []
    if "AT_LEAST" not in source and "AT_MOST" not in source:
        errors.append(ProgramError(line=0, column=0, message="the check has no requirements", stage="static"))
    if "WEIGHTS" in source:
        errors.append(ProgramError(line=0, column=0, message="a check has no WEIGHTS", stage="static"))
    if "bar" in source:
        line = source[: source.index("bar")].count("\n") + 1
        errors.append(ProgramError(line=line, column=19, message=BAD_CHECK_ERROR, stage="static"))
    return ValidationReport(ok=not errors, errors=errors, terms=[])


def fake_builtin_check(task: str, scene_id: str, vocabulary: Vocabulary) -> str:
    return f'"""{task} on {scene_id} (builtin check)."""\n' + GOOD_CHECK.split('"""\n', 2)[-1]


@dataclass(frozen=True)
class FakeRevision:
    program: str
    timesteps_factor: float
    notes: list[str] = field(default_factory=list)


def fake_builtin_revise(reflection: Reflection, scene_id: str, vocabulary: Vocabulary) -> FakeRevision:
    program = reflection.program.replace("backward=1.0", "backward=2.0")
    return FakeRevision(program, 1.5, ["raised the weight of backward (builtin)"])


def make_reflection(program: str = GOOD_PROGRAM, check: str = GOOD_CHECK) -> Reflection:
    """A walk-backwards job that fell over: never_fell failed in 4 of 5 episodes, the curve collapsed."""
    result = CheckResult(
        passed=False,
        episodes=5,
        passed_episodes=1,
        score=0.6,
        figures=[
            FigureResult(name="never_fell", mean=0.2, worst=0.0, at_least=1.0, at_most=None, met=1),
            FigureResult(name="forward_speed", mean=-0.41, worst=-0.35, at_least=None, at_most=-0.3, met=5),
        ],
        summary="failed: never_fell 0.2 (>= 1) in 1/5 episodes",
    )
    return Reflection(
        task_description="make the dog walk backwards",
        program=program,
        check=check,
        result=result,
        terms=[
            TermStats(name="backward", weight=1.0, mean=412.5, std=38.25),
            TermStats(name="effort", weight=-0.001, mean=9876.0, std=1.5),
        ],
        eval_rewards=[10.0, 350.0, 820.0, 130.0],
        check_scores=[0.0, 0.4, 0.8, 0.6],
        kept_step=2_000_000,
        total_steps=4_000_000,
        round=0,
    )


@pytest.fixture
def vocabulary() -> Vocabulary:
    entries = [
        VocabularyEntry(name="base_lin_vel", shape=[3], description="base linear velocity, body frame (m/s)"),
        VocabularyEntry(name="up_vector", shape=[3], description="world z in the body frame"),
        VocabularyEntry(name="action", shape=[12], description="policy action in [-1, 1]"),
        VocabularyEntry(name="time", shape=[], description="seconds since reset"),
    ]
    helpers = [
        VocabularyEntry(name="tolerance(x, lower, upper, margin)", shape=[], description="band reward")
    ]
    return Vocabulary(
        scene_id="Go1JoystickFlatTerrain",
        entries=entries,
        helpers=helpers,
        jnp_functions=["sum", "square", "where"],
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", port=48124)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database(settings.database_path)
    yield db
    db.close()


@pytest.fixture
def stubs() -> Iterator[Callable[[Wire], StubServer]]:
    started: list[StubServer] = []

    def start(wire: Wire) -> StubServer:
        stub = StubServer(wire).start()
        started.append(stub)
        return stub

    yield start
    for stub in started:
        stub.stop()


def make_config(urls: dict[RemoteProviderName, str] | None = None, *, timeout_s: float = 10.0) -> LLMConfig:
    """Every base URL on 127.0.0.1 (dead unless given), no retries: no test can reach the internet."""
    urls = urls or {}
    base = LLMConfig()
    changes: dict[str, ProviderConfig] = {}
    for name, wire in WIRES.items():
        changes[name] = msgspec.structs.replace(
            base.provider(name), base_url=urls.get(name) or dead_url(wire), timeout_s=timeout_s
        )
    return msgspec.structs.replace(base, max_retries=0, probe_timeout_s=0.5, **changes)


@pytest.fixture
def make_service(settings: Settings, database: Database) -> Callable[..., LLMService]:
    def make(
        urls: dict[RemoteProviderName, str] | None = None,
        environ: dict[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> LLMService:
        return LLMService(settings, make_config(urls, timeout_s=timeout_s), database, environ=environ or {})

    return make
