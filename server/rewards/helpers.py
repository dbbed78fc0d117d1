"""The functions a reward term may call: allow-listed `jax.numpy` names and four helpers.

The name lists are plain data so the static checker (API process) can read them without importing JAX;
the helper bodies import `jax.numpy` when called, which only happens in worker processes.
"""

from __future__ import annotations

from typing import Any

from server.rewards.types import VocabularyEntry

# Allow-list, never block-list: jax.numpy also exports `save`, `load` and `fromfile`, which touch files.
# Every name here is a pure array function (or the constant `pi`) with no I/O and no callbacks.
JNP_FUNCTIONS: tuple[str, ...] = (
    "abs", "absolute", "all", "any", "arccos", "arcsin", "arctan", "arctan2", "array", "asarray",
    "ceil", "clip", "concatenate", "cos", "cosh", "cross", "deg2rad", "dot", "exp", "expm1", "floor",
    "hypot", "isfinite", "isnan", "linspace", "log", "log1p", "logical_and", "logical_not", "logical_or",
    "max", "maximum", "mean", "min", "minimum", "ones_like", "outer", "pi", "prod", "rad2deg", "sign",
    "sin", "sinh", "sqrt", "square", "stack", "std", "sum", "tan", "tanh", "var", "where", "zeros_like",
)  # fmt: skip
JNP_ALLOWED = frozenset(JNP_FUNCTIONS)
JNP_CONSTANTS = frozenset({"pi"})  # read as values, not called

HELPER_DOCS: dict[str, tuple[str, str]] = {
    "tolerance": (
        "tolerance(x, lower, upper, margin)",
        "1 inside [lower, upper], falling smoothly (Gaussian) to 0.1 at `margin` outside it",
    ),
    "exp_kernel": ("exp_kernel(error, sigma)", "exp(-sum(error^2) / sigma), Playground's tracking kernel"),
    "clip": ("clip(x, lower, upper)", "jnp.clip(x, lower, upper)"),
    "norm": ("norm(x)", "Euclidean norm of a vector (0 for a zero vector, with a finite gradient)"),
}
HELPER_NAMES = frozenset(HELPER_DOCS)


def helper_entries() -> list[VocabularyEntry]:
    return [VocabularyEntry(name=sig, shape=[], description=desc) for sig, desc in HELPER_DOCS.values()]


def tolerance(x: Any, lower: Any, upper: Any, margin: Any) -> Any:
    """dm_control `rewards.tolerance` with its default Gaussian sigmoid and value_at_margin=0.1."""
    import jax.numpy as jnp

    x = jnp.asarray(x, jnp.float32)
    inside = jnp.logical_and(lower <= x, x <= upper)
    distance = jnp.where(x < lower, lower - x, x - upper) / jnp.maximum(margin, 1e-6)
    # Gaussian scaled so that distance 1 (one margin away) gives 0.1: exp(-0.5 (d * s)^2) = 0.1.
    scale = jnp.sqrt(-2.0 * jnp.log(0.1))
    outside = jnp.exp(-0.5 * jnp.square(distance * scale))
    return jnp.where(inside, 1.0, outside)


def exp_kernel(error: Any, sigma: Any) -> Any:
    import jax.numpy as jnp

    return jnp.exp(-jnp.sum(jnp.square(jnp.asarray(error, jnp.float32))) / sigma)


def clip(x: Any, lower: Any, upper: Any) -> Any:
    import jax.numpy as jnp

    return jnp.clip(x, lower, upper)


def norm(x: Any) -> Any:
    import jax.numpy as jnp

    # sqrt(sum + eps) - eps keeps the gradient finite at 0, where jnp.linalg.norm's is NaN.
    squared = jnp.sum(jnp.square(jnp.asarray(x, jnp.float32)))
    return jnp.sqrt(squared + 1e-12) - 1e-6


HELPERS: dict[str, Any] = {"tolerance": tolerance, "exp_kernel": exp_kernel, "clip": clip, "norm": norm}
