"""What a reward term sees: the state context and the vocabulary entry type. Worker processes only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple


class RewardContext(NamedTuple):
    """One env's state at one control step (unbatched; a pytree, so it passes through `jax.jit`).

    data: the `mjx.Data` after the step; action: the policy's action this step (action_size,);
    prev_action: the previous step's action; info: the env's `state.info` dict.
    """

    data: Any
    action: Any
    prev_action: Any
    info: dict[str, Any]


@dataclass(frozen=True)
class Entry:
    """One `s.<name>`: a function of the context returning a JAX array, and what it means (units, frame)."""

    fn: Callable[[RewardContext], Any]
    description: str
