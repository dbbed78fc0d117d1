"""A statically valid reward program as JAX term functions. Worker processes only.

The program's text is checked (static_check.check_program) and only the checked tree it produces is run,
by interpret.py; nothing here executes, evaluates or compiles the source itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from server.rewards import program as ir
from server.rewards.context import Entry, RewardContext
from server.rewards.interpret import run_term
from server.rewards.static_check import check_program
from server.rewards.types import ValidationReport


class ProgramRejectedError(ValueError):
    def __init__(self, report: ValidationReport) -> None:
        super().__init__("; ".join(f"line {e.line}: {e.message}" for e in report.errors))
        self.report = report


class StateView:
    """`s` inside a term: `read(name)` gives a vocabulary entry, computed on first read for this state.

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

    def read(self, name: str) -> Any:
        if name not in self._cache:
            if name in self._overrides:
                self._cache[name] = jnp.asarray(self._overrides[name], jnp.float32)
            elif name in self._entries:
                self._cache[name] = self._entries[name].fn(self._ctx)
            else:
                raise KeyError(f"s.{name} is not in this scene's vocabulary")
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
    """Statically check `source` against `entries`, then make each term a function of the state that
    interprets the term's checked tree.

    Raises ProgramRejectedError (with the static report) if the program is not valid.
    """
    report, program = check_program(source, set(entries))
    if program is None:
        raise ProgramRejectedError(report)
    return from_checked(program, entries)


def from_checked(program: ir.Program, entries: Mapping[str, Entry]) -> CompiledReward:
    return CompiledReward(
        names=[term.name for term in program.terms],
        weights=dict(program.weights),
        lines={term.name: term.line for term in program.terms},
        functions={term.name: partial(run_term, term) for term in program.terms},
        entries=entries,
    )


def jit_terms(compiled: CompiledReward) -> Callable[[RewardContext], dict[str, Any]]:
    return jax.jit(compiled.terms)
