"""The success-check language (docs/CHECKS.md): static rules, hostile inputs, and the trace check on real
rollouts of CartpoleBalance in the real trace worker."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.checks.verdict import EarlyStop, judge, rank
from server.rewards.checker import RewardChecker
from server.rewards.static_check import check_check, static_check
from tests.rewards.corpus_hostile import STATIC

CARTPOLE: dict[str, list[int]] = {
    "pole_angle": [],
    "pole_angular_velocity": [],
    "cart_position": [],
    "cart_velocity": [],
}
NAMES = set(CARTPOLE) | {"qpos", "qvel", "action"}
SHAPES = CARTPOLE | {"qpos": [2], "qvel": [2], "action": [1]}

GOOD = '''"""Check: keep the pole upright."""

AT_LEAST = dict(upright=0.95)
AT_MOST = dict(cart_travel=1.5)


def upright(s):
    return jnp.mean(jnp.abs(s.pole_angle) < 0.31)


def cart_travel(s):
    return jnp.max(jnp.abs(s.cart_position))


def speed(s):
    return jnp.mean(jnp.abs(s.cart_velocity))
'''


def test_a_valid_check_lists_its_figures_and_requirements() -> None:
    report, program = check_check(GOOD, NAMES, SHAPES, 1000)
    assert report.ok, report.errors
    assert [(f.name, f.at_least, f.at_most) for f in report.figures] == [
        ("upright", 0.95, None),
        ("cart_travel", None, 1.5),
        ("speed", None, None),
    ]
    assert program is not None and program.at_most == {"cart_travel": 1.5}


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("def a(s):\n    return jnp.mean(s.pole_angle)\n", "missing requirements"),
        ("AT_LEAST = dict()\ndef a(s):\n    return jnp.mean(s.pole_angle)\n", "requirements are empty"),
        ("AT_LEAST = dict(a=1)\ndef a(s):\n    return 1.0\n", "reads nothing from the rollout"),
        ("AT_LEAST = dict(a=0.5)\ndef a(s):\n    return jnp.mean(s.reward_upright)\n", "not in this scene"),
        ("AT_LEAST = dict(b=1)\ndef a(s):\n    return jnp.mean(s.pole_angle)\n", "no figure function"),
        ("AT_LEAST = dict(a='x')\ndef a(s):\n    return jnp.mean(s.pole_angle)\n", "number literal"),
        ("AT_LEAST = dict(a=1)\nAT_LEAST = dict(a=2)\ndef a(s):\n    return jnp.mean(s.qpos)\n", "twice"),
        ("WEIGHTS = dict(a=1)\ndef a(s):\n    return jnp.mean(s.pole_angle)\n", "a check has no WEIGHTS"),
        ("AT_LEAST = dict(a=1)\ndef a(s):\n    return s.qpos[:, 5]\n", "out of range"),
        ("AT_LEAST = dict(a=1)\ndef a(s):\n    return s.pole_angle[1000]\n", "out of range"),
        ("AT_LEAST = dict(a=1)\nX = 3\ndef a(s):\n    return jnp.mean(s.qpos)\n", "only top-level"),
    ],
)
def test_invalid_checks_get_located_messages(source: str, fragment: str) -> None:
    report, program = check_check(source, NAMES, SHAPES, 1000)
    assert not report.ok and program is None
    assert any(fragment in e.message for e in report.errors), report.errors


@pytest.mark.parametrize(("name", "source", "fragment"), STATIC, ids=[c[0] for c in STATIC])
def test_hostile_reward_corpus_is_refused_as_a_check_too(name: str, source: str, fragment: str) -> None:
    """Every hostile body, moved into a check figure, is still refused by the same validator."""
    as_check = source.replace("WEIGHTS", "AT_LEAST")
    report = static_check(as_check, NAMES, SHAPES, kind="check")
    assert not report.ok, name


def test_verdict_needs_every_episode_and_ranks_pass_over_reward() -> None:
    passing = judge({"up": [0.99, 0.97, 0.96]}, {"up": 0.95}, {})
    one_bad = judge({"up": [0.99, 0.97, 0.5]}, {"up": 0.95}, {})
    assert passing.passed and passing.score == 1.0 and passing.summary.startswith("passed: up 0.973")
    assert not one_bad.passed and one_bad.passed_episodes == 2 and "worst 0.5" in one_bad.summary
    assert rank(passing, 10.0) > rank(one_bad, 1000.0)  # the verdict outranks the reward
    assert rank(one_bad, 5.0) > rank(judge({"up": [0.1, 0.1, 0.1]}, {"up": 0.95}, {}), 900.0)
    nan = judge({"up": [float("nan"), 0.99]}, {"up": 0.95}, {})
    assert not nan.passed and nan.error is not None and "`up`" in nan.error
    stop = EarlyStop(2)
    assert [stop.update(r) for r in (passing, one_bad, passing, passing)] == [False, False, False, True]
    assert not any(EarlyStop(0).update(passing) for _ in range(5))


@pytest.fixture(scope="module")
def checker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RewardChecker, asyncio.AbstractEventLoop]]:
    cache = Path(os.environ.get("ROBOCOACH_TEST_REWARD_CACHE") or tmp_path_factory.mktemp("rewards"))
    loop = asyncio.new_event_loop()
    rewards = RewardChecker(cache)
    yield rewards, loop
    loop.run_until_complete(rewards.close())
    loop.close()


def _validate(checker: tuple[RewardChecker, asyncio.AbstractEventLoop], source: str):  # type: ignore[no-untyped-def]
    rewards, loop = checker
    return loop.run_until_complete(rewards.validate_check("CartpoleBalance", source))


def test_trace_check_accepts_a_check_that_tells_success_from_failure(checker) -> None:  # type: ignore[no-untyped-def]
    report = _validate(checker, GOOD)
    assert report.ok, report.errors
    assert [f.name for f in report.figures] == ["upright", "cart_travel", "speed"]


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        # Passes for zero and random actions alike: the cart never leaves +-100 m.
        ("AT_MOST = dict(a=100.0)\ndef a(s):\n    return jnp.max(jnp.abs(s.cart_position))\n", "cannot tell"),
        ("AT_LEAST = dict(a=0.5)\ndef a(s):\n    return jnp.mean(jnp.log(s.cart_position - 10.0))\n", "NaN"),
        ("AT_LEAST = dict(a=0.5)\ndef a(s):\n    return s.cart_position\n", "one number"),
        ("AT_LEAST = dict(a=0.5)\ndef a(s):\n    return jnp.min(s.alive) + s.qpos[0]\n", "one number"),
    ],
)
def test_trace_check_refuses_checks_that_cannot_judge(checker, source: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    report = _validate(checker, source)
    assert not report.ok
    assert report.errors[0].stage == "trace" and fragment in report.errors[0].message, report.errors
