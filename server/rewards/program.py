"""The reward language's checked form: a small, closed syntax tree that only the static check builds.

The static check (static_check.py) reads Python's `ast` of a program and, for every node it accepts, emits
one of the nodes below; a node it rejects emits nothing. Workers then *interpret* this tree
(interpret.py): the program's text is never handed to `exec`, `eval` or `compile`. So the validator and
the executor share one grammar by construction: a construct the validator did not visit has no
representation here and cannot run, whatever Python would have done with it.

Plain data, no JAX: the API process builds these trees too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

BinaryOperator: TypeAlias = Literal["+", "-", "*", "/", "**", "%"]
CompareOperator: TypeAlias = Literal["<", "<=", ">", ">=", "==", "!="]
UnaryOperator: TypeAlias = Literal["-", "+", "not"]


@dataclass(frozen=True, slots=True)
class Num:
    value: int | float
    line: int


@dataclass(frozen=True, slots=True)
class Local:
    """A variable the term assigned on an earlier line."""

    name: str
    line: int


@dataclass(frozen=True, slots=True)
class StateEntry:
    """`s.<name>`: a vocabulary entry of the scene."""

    name: str
    line: int


@dataclass(frozen=True, slots=True)
class JnpConstant:
    """`jnp.pi`."""

    name: str
    line: int


@dataclass(frozen=True, slots=True)
class Call:
    """`jnp.<name>(args...)` (kind "jnp", name in the allow-list) or `<helper>(args...)` (kind "helper")."""

    kind: Literal["jnp", "helper"]
    name: str
    args: tuple[Expr, ...]
    line: int


@dataclass(frozen=True, slots=True)
class BinOp:
    op: BinaryOperator
    left: Expr
    right: Expr
    line: int


@dataclass(frozen=True, slots=True)
class UnaryOp:
    op: UnaryOperator
    operand: Expr
    line: int


@dataclass(frozen=True, slots=True)
class Compare:
    """`a < b <= c`: each comparison once, combined with a logical and (operands are traced arrays)."""

    left: Expr
    ops: tuple[CompareOperator, ...]
    comparators: tuple[Expr, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Logical:
    """`a and b`, `a or b`: element-wise logical functions, since Python's would call bool() on a tracer."""

    op: Literal["and", "or"]
    values: tuple[Expr, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Slice:
    lower: int | None
    upper: int | None
    step: int | None


@dataclass(frozen=True, slots=True)
class Index:
    """`value[0]`, `value[:, 2]`, `value[1:3]`: literal integers and literal slices only."""

    value: Expr
    parts: tuple[int | Slice, ...]
    is_tuple: bool  # `x[0, 1]` versus `x[0]`: the same parts, a different Python index
    line: int


@dataclass(frozen=True, slots=True)
class Sequence:
    """`[a, b]` or `(a, b)`: only useful as an argument, e.g. jnp.array([a, b])."""

    kind: Literal["list", "tuple"]
    elements: tuple[Expr, ...]
    line: int


Expr: TypeAlias = (
    Num | Local | StateEntry | JnpConstant | Call | BinOp | UnaryOp | Compare | Logical | Index | Sequence
)


@dataclass(frozen=True, slots=True)
class Assign:
    name: str
    value: Expr
    line: int


@dataclass(frozen=True, slots=True)
class AugAssign:
    name: str
    op: BinaryOperator
    value: Expr
    line: int


@dataclass(frozen=True, slots=True)
class Return:
    value: Expr
    line: int


Statement: TypeAlias = Assign | AugAssign | Return


@dataclass(frozen=True, slots=True)
class Term:
    """`def <name>(s): ...`; the body ends with its only Return."""

    name: str
    body: tuple[Statement, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Program:
    """A whole reward program: each term once, in source order, with its weight."""

    terms: tuple[Term, ...]
    weights: dict[str, float]


@dataclass(frozen=True, slots=True)
class CheckProgram:
    """A whole success check (docs/CHECKS.md): figures over a rollout and the requirements on them."""

    figures: tuple[Term, ...]
    at_least: dict[str, float]
    at_most: dict[str, float]


def entries_read(node: object) -> set[str]:
    """The vocabulary entries (`s.<name>`) a checked term, statement or expression reads."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, StateEntry):
            found.add(item.name)
        elif isinstance(item, tuple):
            stack.extend(item)
        elif hasattr(item, "__slots__") and not isinstance(item, Slice):
            stack.extend(getattr(item, slot) for slot in item.__slots__)
    return found
