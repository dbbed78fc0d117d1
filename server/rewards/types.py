"""Typed records of the reward language that cross the API: validation results and the vocabulary."""

from __future__ import annotations

from typing import Literal

import msgspec

from server.checks.types import CheckFigure

TermType = Literal["reward", "penalty"]  # by the sign of the term's weight


class ProgramError(msgspec.Struct, frozen=True, kw_only=True):
    """One problem, located in the program's source, worded for a person and an LLM to act on."""

    line: int  # 1-based; 0 when the problem is the program as a whole
    column: int  # 0-based; 0 when unknown
    message: str
    stage: Literal["syntax", "static", "trace"]


class RewardTerm(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: TermType
    weight: float
    code: str  # the term's function source, as written


class ValidationReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    errors: list[ProgramError]
    terms: list[RewardTerm]  # in program order; empty when the program did not parse
    figures: list[CheckFigure] = msgspec.field(default_factory=list)  # a check program's, in order


class VocabularyEntry(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # how a term reads it, e.g. "base_lin_vel" for `s.base_lin_vel`
    shape: list[int]  # [] for a scalar
    description: str  # units and frame, e.g. "base linear velocity in the body frame (m/s)"


class Vocabulary(msgspec.Struct, frozen=True, kw_only=True):
    scene_id: str
    entries: list[VocabularyEntry]
    helpers: list[VocabularyEntry]  # functions such as tolerance(...), with their signature as `name`
    jnp_functions: list[str]  # the allow-listed jax.numpy names


PrepareState = Literal["idle", "preparing", "prepared", "failed"]  # idle: not asked for yet


class PrepareStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the reward checks of a scene are ready to answer at once (the scene loaded and its sample
    rollouts compiled in the trace worker), so the UI can say what a first draft waits for."""

    scene_id: str
    state: PrepareState
    seconds: float  # how long preparing took (prepared, failed) or has taken so far (preparing); 0 idle
    error: str = ""  # why it failed, for a person
    # Seconds per phase (load, reset, step, vocabulary, rollout compile, rollout run), when it was done
    # by this launch's worker; empty when everything was there already.
    phases: dict[str, float] = msgspec.field(default_factory=dict)
