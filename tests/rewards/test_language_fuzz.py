"""Grammar-based fuzz of the reward language: whatever validates runs only allow-listed operations.

Programs are generated from a grammar that mixes the language's constructs with hostile ones (imports,
dunder chains, forbidden jnp names, chained targets, decorators, defaults, annotations, lambdas...), each
hostile piece written to touch a canary file if it ever ran. For every program:

- the validator's view: `check_program` gives a report and, only when valid, the checked tree;
- what executes: the interpreter runs every term with an observer recording each operation.

Differential property: every executed operation is in the allow-list AND appears in the validator's tree
(so nothing runs that the validator did not see), and no canary is ever touched.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.rewards import program as ir
from server.rewards.compile import StateView
from server.rewards.context import Entry, RewardContext
from server.rewards.helpers import HELPER_NAMES, JNP_ALLOWED, JNP_CONSTANTS
from server.rewards.interpret import run_term
from server.rewards.static_check import check_program

CANARY = Path("/tmp/robocoach-fuzz-canary")  # every hostile fragment below would create it
SHAPES = {"qpos": (2,), "qvel": (2,), "pole_angle": (), "cart_position": (), "time": ()}
ENTRIES = {
    name: Entry(fn=lambda ctx, shape=shape: jnp.full(shape, 0.5, jnp.float32), description="")
    for name, shape in SHAPES.items()
}
CONTEXT = RewardContext(data=None, action=jnp.zeros(1), prev_action=jnp.zeros(1), info={})
TOUCH = f"__import__('pathlib').Path('{CANARY}').touch()"

HOSTILE_EXPRESSIONS = [
    TOUCH,
    f"jnp.__dict__[{TOUCH}]",
    f"jnp.sin.__globals__['__builtins__']['exec']({TOUCH!r})",
    "().__class__.__bases__[0].__subclasses__()",
    f"open('{CANARY}', 'w')",
    f"jnp.save('{CANARY}', 1.0)",
    "jnp.load(1.0)",
    "s.__class__",
    "s.qpos.__array__()",
    f"(lambda: {TOUCH})()",
    f"[{TOUCH} for x in s.qpos]",
    f"(x := {TOUCH})",
    f"eval({TOUCH!r})",
    "jnp.sum",
    "jnp.linalg.norm(s.qpos)",
    "norm.__module__",
    f"1.0 if {TOUCH} else 0.0",
    "f'{s.qpos}'",
    "jnp.sum(s.qpos, axis=0)",
    "jnp.maximum(*s.qpos)",
]
SAFE_ATOMS = ["s.qpos", "s.pole_angle", "s.cart_position", "s.time", "jnp.pi", "0.5", "2", "-1.0", "3"]
JNP_CALLS = ["jnp.sum", "jnp.cos", "jnp.abs", "jnp.square", "jnp.exp", "jnp.mean", "jnp.tanh", "norm"]


def expressions(locals_: list[str]) -> st.SearchStrategy[str]:
    atoms = st.sampled_from(SAFE_ATOMS + locals_) | st.sampled_from(HOSTILE_EXPRESSIONS)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "@", "<<"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(inner, st.sampled_from(["2", "-1", "0.5", "x", "9**9"])).map(
                lambda t: f"({t[0]} ** {t[1]})"
            ),
            st.tuples(st.sampled_from(["-", "not ", "~"]), inner).map(lambda t: f"({t[0]}{t[1]})"),
            st.tuples(inner, st.sampled_from(["<", ">=", "==", "is", "in"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(JNP_CALLS), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner, inner).map(lambda t: f"jnp.where({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(inner, inner).map(lambda t: f"clip({t[0]}, -1.0, {t[1]})"),
            st.tuples(inner, st.sampled_from(["[0]", "[-1]", "[0:1]", "[:, 0]", "[x]", "[::2]"])).map(
                lambda t: f"{t[0]}{t[1]}"
            ),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: f"jnp.array([{', '.join(xs)}])"),
            st.tuples(inner, st.sampled_from([".T", ".sum()", ".__class__"])).map(lambda t: f"{t[0]}{t[1]}"),
        )

    return st.recursive(atoms, extend, max_leaves=6)


@st.composite
def terms(draw: st.DrawFn, name: str) -> str:
    locals_: list[str] = []
    lines = []
    for index in range(draw(st.integers(0, 3))):
        value = draw(expressions(locals_))
        kind = draw(st.sampled_from(["assign", "assign", "chained", "augmented", "expression", "if"]))
        variable = f"v{index}"
        if kind == "assign":
            lines.append(f"{variable} = {value}")
            locals_.append(variable)
        elif kind == "chained":
            lines.append(f"{variable} = jnp.__dict__[{TOUCH}] = {value}")
        elif kind == "augmented" and locals_:
            lines.append(f"{locals_[0]} {draw(st.sampled_from(['+=', '*=', '**=', '@=']))} {value}")
        elif kind == "expression":
            lines.append(value)
        else:
            lines.append(f"if {value}:\n        {TOUCH}")
    lines.append(f"return {draw(expressions(locals_))}")
    header = draw(
        st.sampled_from(
            [
                f"def {name}(s):",
                f"@jnp.vectorize\ndef {name}(s):",
                f"def {name}(s={TOUCH}):",
                f"def {name}(s: int):",
            ]
            + [f"def {name}(s):"] * 4
        )
    )
    return header + "\n" + "".join(f"    {line}\n" for line in lines)


@st.composite
def programs(draw: st.DrawFn) -> str:
    names = [f"t{i}" for i in range(draw(st.integers(1, 3)))]
    weights = ", ".join(f"{n}={draw(st.sampled_from(['1.0', '-0.5', '2']))}" for n in names)
    first = draw(
        st.sampled_from(
            [f"WEIGHTS = dict({weights})"] * 4
            + [f"WEIGHTS = jnp.__dict__[{TOUCH}] = dict({weights})", f"WEIGHTS = x = dict({weights})"]
        )
    )
    extra = draw(st.sampled_from(["", "", f"{TOUCH}\n", "import os\n", f"x = {TOUCH}\n"]))
    return first + "\n" + extra + "\n".join(draw(terms(name)) for name in names)


def tree_operations(program: ir.Program) -> set[tuple[str, str]]:
    """Every operation the checked tree contains: what the validator saw and accepted."""
    seen: set[tuple[str, str]] = set()
    stack: list[Any] = [statement for term in program.terms for statement in term.body]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.StateEntry):
            seen.add(("state", node.name))
        elif isinstance(node, ir.JnpConstant):
            seen.add(("constant", f"jnp.{node.name}"))
        elif isinstance(node, ir.Call):
            seen.add(("call", f"{node.kind}.{node.name}"))
        elif isinstance(node, ir.BinOp | ir.AugAssign | ir.UnaryOp | ir.Logical):
            seen.add(("operator", node.op))
        elif isinstance(node, ir.Compare):
            seen |= {("operator", op) for op in node.ops}
        for field in getattr(node, "__slots__", ()):
            value = getattr(node, field)
            children = value if isinstance(value, tuple) else (value,)
            stack.extend(child for child in children if hasattr(child, "__slots__"))
    return seen


def allowed(operation: tuple[str, str]) -> bool:
    kind, name = operation
    if kind == "state":
        return name in SHAPES
    if kind == "constant":
        return name.removeprefix("jnp.") in JNP_CONSTANTS
    if kind == "call":
        family, _, function = name.partition(".")
        return (family == "jnp" and function in JNP_ALLOWED) or (
            family == "helper" and function in HELPER_NAMES
        )
    return kind == "operator"


@pytest.fixture(autouse=True)
def no_canary() -> Any:
    CANARY.unlink(missing_ok=True)
    yield
    assert not CANARY.exists(), "a hostile fragment ran"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_only_validated_operations_ever_run(source: str) -> None:
    report, program = check_program(source, set(SHAPES), SHAPES)
    assert (program is not None) == report.ok
    if program is None:
        assert report.errors
        return
    validated = tree_operations(program)
    assert all(allowed(op) for op in validated), validated
    for term in program.terms:
        executed: list[tuple[str, str]] = []

        def record(kind: str, name: str, executed: list[tuple[str, str]] = executed) -> None:
            executed.append((kind, name))

        # A valid program may still fail to evaluate (shapes, types): the trace check reports those.
        with contextlib.suppress(Exception):
            run_term(term, StateView(CONTEXT, ENTRIES, {}), record)
        assert set(executed) <= validated, set(executed) - validated
        assert all(allowed(op) for op in executed)
    assert not CANARY.exists()


def test_the_fuzzer_reaches_both_sides() -> None:
    """The grammar must produce valid programs and hostile ones, or the property above proves nothing."""
    outcomes = {"valid": 0, "rejected": 0}

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)  # a fixed sample
    @given(programs())
    def sample(source: str) -> None:
        outcomes["valid" if check_program(source, set(SHAPES), SHAPES)[1] is not None else "rejected"] += 1

    sample()
    assert outcomes["valid"] >= 10 and outcomes["rejected"] >= 10, outcomes
