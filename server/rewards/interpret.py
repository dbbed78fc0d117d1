"""Run a checked reward program (program.py) by walking its tree. Worker processes only (imports JAX).

This is the only executor of model-written code: it evaluates exactly the node kinds the static check
can emit, calls only the allow-listed jnp functions and helpers (looked up in fixed tables, never through
an attribute of a user value), and reads the state only through vocabulary entries. JAX traces it like
any Python function, so the walk costs nothing once a term is compiled.

Python's own semantics are kept for the accepted subset, with three deliberate differences that keep a
cheap-looking program cheap: `and`/`or`/`not` and chained comparisons are element-wise (Python's would
call bool() on a traced array), integer arithmetic that leaves +-MAX_LITERAL continues in floating point
(no unbounded Python integers), and lists/tuples cannot take part in arithmetic (`[x] * 10**6`).
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from typing import Any, Protocol

import jax.numpy as jnp

from server.rewards import program as ir
from server.rewards.helpers import HELPERS, JNP_CONSTANTS, JNP_FUNCTIONS
from server.rewards.static_check import MAX_LITERAL

_JNP: dict[str, Any] = {name: getattr(jnp, name) for name in JNP_FUNCTIONS}
_BINARY: dict[ir.BinaryOperator, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "**": operator.pow, "%": operator.mod,
}  # fmt: skip
_COMPARE: dict[ir.CompareOperator, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}  # fmt: skip


class State(Protocol):
    """What `s` is to a term: vocabulary entries by name."""

    def read(self, name: str) -> Any: ...


Observer = Callable[[str, str], None]  # (kind, name), e.g. ("call", "jnp.sum"); tests record what ran


def program_line(exc: BaseException) -> int | None:
    """The innermost program line at which `exc` was raised while a term ran, if it was (the line is
    attached to the exception itself, so callers keep its type and message)."""
    line = getattr(exc, "program_line", None)
    return line if isinstance(line, int) else None


def run_term(term: ir.Term, state: State, observe: Observer | None = None) -> Any:
    """The value the term returns for `state`."""
    evaluator = _Evaluator(state, observe)
    local: dict[str, Any] = {}
    for statement in term.body:
        try:
            if isinstance(statement, ir.Return):
                return evaluator.expr(statement.value, local)
            value = evaluator.expr(statement.value, local)
            if isinstance(statement, ir.AugAssign):
                value = _arithmetic(statement.op, local[statement.name], value)
            local[statement.name] = value
        except Exception as exc:
            _mark(exc, statement.line)
            raise
    raise AssertionError(f"term {term.name} has no return")  # the static check requires one


def _mark(exc: Exception, line: int) -> None:
    if getattr(exc, "program_line", None) is None:
        with contextlib.suppress(AttributeError):  # an exception type with __slots__ goes unlocated
            exc.program_line = line  # type: ignore[attr-defined]


def _arithmetic(op: ir.BinaryOperator, left: Any, right: Any) -> Any:
    if isinstance(left, list | tuple) or isinstance(right, list | tuple):
        raise TypeError(
            f"`{op}` on a list or tuple is not allowed: make it an array first, e.g. jnp.array([a, b])"
        )
    result = _BINARY[op](left, right)
    if type(result) is int and abs(result) > MAX_LITERAL:
        return float(result)  # keep plain integers bounded: `x = x ** 4` repeated must not grow forever
    return result


class _Evaluator:
    def __init__(self, state: State, observe: Observer | None) -> None:
        self.state = state
        self.observe = observe

    def expr(self, node: ir.Expr, local: dict[str, Any]) -> Any:
        try:
            return self._expr(node, local)
        except Exception as exc:
            _mark(exc, node.line)
            raise

    def _expr(self, node: ir.Expr, local: dict[str, Any]) -> Any:
        if isinstance(node, ir.Num):
            return node.value
        if isinstance(node, ir.Local):
            return local[node.name]
        if isinstance(node, ir.StateEntry):
            self._saw("state", node.name)
            return self.state.read(node.name)
        if isinstance(node, ir.JnpConstant):
            if node.name not in JNP_CONSTANTS:
                raise ValueError(f"jnp.{node.name} is not a constant")
            self._saw("constant", f"jnp.{node.name}")
            return _JNP[node.name]
        if isinstance(node, ir.Call):
            function = _JNP[node.name] if node.kind == "jnp" else HELPERS[node.name]
            self._saw("call", f"{node.kind}.{node.name}")
            return function(*(self.expr(arg, local) for arg in node.args))
        if isinstance(node, ir.BinOp):
            self._saw("operator", node.op)
            return _arithmetic(node.op, self.expr(node.left, local), self.expr(node.right, local))
        if isinstance(node, ir.UnaryOp):
            operand = self.expr(node.operand, local)
            self._saw("operator", node.op)
            if node.op == "not":
                return jnp.logical_not(operand)
            return -operand if node.op == "-" else +operand
        if isinstance(node, ir.Compare):
            left = self.expr(node.left, local)
            results = []
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.expr(comparator, local)
                self._saw("operator", op)
                results.append(_COMPARE[op](left, right))
                left = right
            result = results[0]
            for part in results[1:]:
                result = jnp.logical_and(result, part)
            return result
        if isinstance(node, ir.Logical):
            combine = jnp.logical_and if node.op == "and" else jnp.logical_or
            self._saw("operator", node.op)
            values = [self.expr(value, local) for value in node.values]
            result = values[0]
            for value in values[1:]:
                result = combine(result, value)
            return result
        if isinstance(node, ir.Index):
            parts = tuple(
                slice(p.lower, p.upper, p.step) if isinstance(p, ir.Slice) else p for p in node.parts
            )
            return self.expr(node.value, local)[parts if node.is_tuple else parts[0]]
        if isinstance(node, ir.Sequence):
            elements = [self.expr(element, local) for element in node.elements]
            return elements if node.kind == "list" else tuple(elements)
        raise TypeError(f"not a checked expression: {type(node).__name__}")

    def _saw(self, kind: str, name: str) -> None:
        if self.observe is not None:
            self.observe(kind, name)
