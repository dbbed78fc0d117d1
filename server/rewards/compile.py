"""Turn a statically valid reward program into JAX term functions. Worker processes only.

The source is executed once, to define its functions, with globals we control: a minimal
`__builtins__`, `jnp` as a proxy that exposes only the allow-listed names, the helpers, and nothing else.
The static check (which always runs first, here too) is what makes this safe: it rejects every name
starting with `_` and every attribute access except `s.<entry>` and `jnp.<allowed>`, so user code cannot
reach the builtins, the proxy's internals or the guarded `__import__`.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jnp

from server.rewards.context import Entry, RewardContext
from server.rewards.helpers import HELPERS, JNP_FUNCTIONS
from server.rewards.static_check import static_check
from server.rewards.types import ValidationReport

FILENAME = "<reward>"  # tracebacks through term code carry this name; the trace check looks for it
_IMPORTABLE = frozenset({"numpy", "jax", "jaxlib", "ml_dtypes"})


class ProgramRejectedError(ValueError):
    def __init__(self, report: ValidationReport) -> None:
        super().__init__("; ".join(f"line {e.line}: {e.message}" for e in report.errors))
        self.report = report


def _guarded_import(
    name: str,
    globals: Mapping[str, object] | None = None,
    locals: Mapping[str, object] | None = None,
    fromlist: tuple[str, ...] = (),
    level: int = 0,
) -> Any:
    """JAX's tracing imports numpy/jax modules through the caller's `__builtins__` (FIELD_NOTES), so
    an empty builtins dict breaks it; this one allows exactly those packages. User code cannot name it."""
    if level != 0 or name.split(".")[0] not in _IMPORTABLE:
        raise ImportError(f"import of {name!r} is not allowed in a reward program")
    module = importlib.import_module(name)
    return module if fromlist else importlib.import_module(name.split(".")[0])


def jnp_proxy() -> SimpleNamespace:
    """An object with the allow-listed jax.numpy names as attributes and nothing else worth reaching."""
    return SimpleNamespace(**{name: getattr(jnp, name) for name in JNP_FUNCTIONS})


class _Traceable(ast.NodeTransformer):
    """Rewrite Python truth operators, which call bool() on traced arrays, into their jnp forms.

    `a and b` -> logical_and(a, b); `not a` -> logical_not(a); `x < y < z` -> logical_and(x < y, y < z).
    The names are bound in the program's globals under keys user code cannot spell (leading `_`).
    """

    def _call(self, fn: str, args: list[ast.expr], like: ast.AST) -> ast.expr:
        return ast.copy_location(ast.Call(ast.Name(fn, ast.Load()), args, []), like)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        fn = "_logical_and" if isinstance(node.op, ast.And) else "_logical_or"
        result = node.values[0]
        for value in node.values[1:]:
            result = self._call(fn, [result, value], node)
        return result

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return self._call("_logical_not", [node.operand], node)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if len(node.ops) == 1:
            return node
        left, parts = node.left, []
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts.append(ast.copy_location(ast.Compare(left, [op], [right]), node))
            left = right
        result: ast.expr = parts[0]
        for part in parts[1:]:
            result = self._call("_logical_and", [result, part], node)
        return result


class StateView:
    """`s` inside a term: attributes are vocabulary entries, computed on first read for this state.

    `overrides` replaces entries by given values, which lets tests and previews ask "what if the base
    moved backwards?" without simulating it.
    """

    __slots__ = ("_cache", "_ctx", "_entries", "_overrides")

    def __init__(
        self, ctx: RewardContext, entries: Mapping[str, Entry], overrides: Mapping[str, Any]
    ) -> None:
        self._ctx = ctx
        self._entries = entries
        self._overrides = overrides
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._cache:
            if name in self._overrides:
                self._cache[name] = jnp.asarray(self._overrides[name], jnp.float32)
            elif name in self._entries:
                self._cache[name] = self._entries[name].fn(self._ctx)
            else:
                raise AttributeError(f"s.{name} is not in this scene's vocabulary")
        return self._cache[name]


def as_term_value(value: Any) -> Any:
    """Terms may return Python numbers, bools or integer arrays (e.g. a contact count): make them float32."""
    array = jnp.asarray(value)
    if jnp.issubdtype(array.dtype, jnp.bool_) or jnp.issubdtype(array.dtype, jnp.integer):
        array = array.astype(jnp.float32)
    return array


def guard_finite(value: Any) -> tuple[Any, Any]:
    """(value with NaN/inf replaced by 0, whether it was finite): one bad term cannot poison a batch."""
    finite = jnp.all(jnp.isfinite(value))
    return jnp.where(finite, value, jnp.zeros_like(value)), finite


@dataclass(frozen=True)
class CompiledReward:
    """A program's terms as functions of the state. `names` is in program order."""

    names: list[str]
    weights: dict[str, float]
    lines: dict[str, int]  # each term's `def` line, for error messages
    functions: dict[str, Callable[[Any], Any]]
    entries: Mapping[str, Entry]
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def term(self, name: str, ctx: RewardContext, overrides: Mapping[str, Any] | None = None) -> Any:
        view = StateView(ctx, self.entries, overrides if overrides is not None else self.overrides)
        return as_term_value(self.functions[name](view))

    def terms(self, ctx: RewardContext, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every term's value (float32 scalars for a program that passed the trace check)."""
        view = StateView(ctx, self.entries, overrides if overrides is not None else self.overrides)
        return {name: as_term_value(self.functions[name](view)) for name in self.names}

    def total(self, ctx: RewardContext, overrides: Mapping[str, Any] | None = None) -> Any:
        """sum(weight * term), unguarded."""
        values = self.terms(ctx, overrides)
        return sum((self.weights[n] * values[n] for n in self.names), jnp.float32(0.0))

    def safe_total(self, ctx: RewardContext) -> tuple[Any, dict[str, Any], Any]:
        """(total over finite terms, terms with non-finite values zeroed, all-finite flag), for training."""
        guarded = {name: guard_finite(value) for name, value in self.terms(ctx).items()}
        total = sum((self.weights[n] * guarded[n][0] for n in self.names), jnp.float32(0.0))
        finite = jnp.all(jnp.stack([ok for _, ok in guarded.values()]))
        return total, {n: v for n, (v, _) in guarded.items()}, finite


def compile_program(source: str, entries: Mapping[str, Entry]) -> CompiledReward:
    """Statically check `source` against `entries`, then define its term functions.

    Raises ProgramRejectedError (with the static report) if the program is not valid.
    """
    report = static_check(source, set(entries))
    if not report.ok:
        raise ProgramRejectedError(report)
    tree = ast.fix_missing_locations(_Traceable().visit(ast.parse(source, filename=FILENAME)))
    code = compile(tree, FILENAME, "exec", dont_inherit=True)
    namespace: dict[str, Any] = {
        "__builtins__": {"__import__": _guarded_import, "dict": dict},
        "__name__": "reward_program",
        "jnp": jnp_proxy(),
        "_logical_and": jnp.logical_and,
        "_logical_or": jnp.logical_or,
        "_logical_not": jnp.logical_not,
        **HELPERS,
    }
    exec(code, namespace)  # noqa: S102 (statically checked program; see the module docstring)
    lines = {node.name: node.lineno for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    names = [term.name for term in report.terms]
    return CompiledReward(
        names=names,
        weights={term.name: term.weight for term in report.terms},
        lines=lines,
        functions={name: namespace[name] for name in names},
        entries=entries,
    )


def jit_terms(compiled: CompiledReward) -> Callable[[RewardContext], dict[str, Any]]:
    return jax.jit(compiled.terms)
