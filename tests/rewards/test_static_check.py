"""The static checker alone: hostile corpus, valid programs, term extraction, no JAX in the API process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from server.rewards.static_check import static_check
from tests.rewards.corpus_hostile import STATIC, TRACE

VOCAB = {"qpos", "qvel", "action", "time", "pole_angle", "cart_position", "cart_velocity"}

VALID = '''"""Balance the pole with the cart near the centre."""

WEIGHTS = dict(upright=1.0, centre=0.5, effort=-0.01)


def upright(s):
    """cos of the angle, mapped to [0, 1]."""
    c = jnp.cos(s.pole_angle)
    return (1.0 + c) / 2.0


def centre(s):
    near = s.cart_position > -0.25 and s.cart_position < 0.25
    return jnp.where(near, 1.0, tolerance(s.cart_position, -0.25, 0.25, 1.0)) * -1.0 ** 2


def effort(s):
    return jnp.sum(jnp.square(s.action[:])) + 0 * norm(s.qvel)
'''


def test_corpus_is_big_enough() -> None:
    assert len(STATIC) + len(TRACE) >= 40
    assert len({name for name, _, _ in STATIC + TRACE}) == len(STATIC) + len(TRACE)


@pytest.mark.parametrize(("name", "source", "fragment"), STATIC, ids=[c[0] for c in STATIC])
def test_hostile_program_rejected_statically(name: str, source: str, fragment: str) -> None:
    report = static_check(source, VOCAB)
    assert not report.ok
    messages = " | ".join(e.message for e in report.errors)
    assert fragment in messages, messages
    assert all(e.stage in ("syntax", "static") for e in report.errors)


@pytest.mark.parametrize(("name", "source", "fragment"), TRACE, ids=[c[0] for c in TRACE])
def test_trace_corpus_passes_static_check(name: str, source: str, fragment: str) -> None:
    assert static_check(source, VOCAB).ok, static_check(source, VOCAB).errors


def test_valid_program_and_terms() -> None:
    report = static_check(VALID, VOCAB)
    assert report.ok, report.errors
    assert [(t.name, t.type, t.weight) for t in report.terms] == [
        ("upright", "reward", 1.0),
        ("centre", "reward", 0.5),
        ("effort", "penalty", -0.01),
    ]
    assert report.terms[2].code.startswith("def effort(s):")


def test_errors_are_located_and_helpful() -> None:
    report = static_check("WEIGHTS = dict(t=1.0)\n\ndef t(s):\n    return s.pole_angel + jnp.save\n", VOCAB)
    first, second = report.errors
    assert (first.line, first.column) == (4, 11)
    assert "s.pole_angle" in first.message and "vocabulary" in first.message
    assert "jnp.save" in second.message and "sum" in second.message  # lists allowed names


def test_api_process_never_imports_jax() -> None:
    code = (
        "import sys, server.rewards.checker, server.rewards.static_check, server.llm.builtin;"
        "bad = [m for m in ('jax', 'jaxlib', 'mujoco_playground', 'mujoco') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("s.qpos[7]", "index 7 is out of range for s.qpos of shape [2]"),
        ("s.qpos[-3]", "index -3 is out of range"),
        ("s.foot_pos[4, 0]", "index 4 is out of range for s.foot_pos of shape [4, 3]"),
        ("s.foot_pos[0, 3]", "index 3 is out of range"),
        ("s.qpos[0, 1]", "too many indexes"),
    ],
)
def test_literal_indexes_are_checked_against_vocabulary_shapes(expression: str, fragment: str) -> None:
    # JAX clamps out-of-range indexes instead of raising, so only the static check can catch these.
    program = f"WEIGHTS = dict(t=1.0)\n\n\ndef t(s):\n    return jnp.sum({expression})\n"
    shapes = {"qpos": [2], "foot_pos": [4, 3]}
    report = static_check(program, set(shapes), shapes)
    assert not report.ok
    assert fragment in report.errors[0].message
    assert report.errors[0].line == 5


@pytest.mark.parametrize("expression", ["s.qpos[1]", "s.qpos[-2]", "s.foot_pos[3, 2]", "s.foot_pos[:, 2]"])
def test_in_range_indexes_pass(expression: str) -> None:
    program = f"WEIGHTS = dict(t=1.0)\n\n\ndef t(s):\n    return jnp.sum({expression})\n"
    shapes = {"qpos": [2], "foot_pos": [4, 3]}
    assert static_check(program, set(shapes), shapes).ok
