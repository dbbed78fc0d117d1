"""Fixes for Playground 0.2 running on the pinned MuJoCo 3.14.0. Worker processes only.

Anything that loads Playground envs (scene export, training) must call `patch_playground_compat()`
first, or the env loads differently from (or fails unlike) the one the other side sees.
"""

from __future__ import annotations

from typing import Any


def _find_body(spec: Any, name: str) -> Any:
    return spec.body(name)


def patch_playground_compat() -> None:
    """Idempotent.

    dm_control_suite/reacher.py picks the MjSpec API with `mujoco.__version__ >= "3.3.0"`, a string
    comparison that is False for "3.14.0", so it calls `MjSpec.find_body`, which MuJoCo removed in 3.3
    (ReacherEasy and ReacherHard then fail with AttributeError). Restore it as the documented successor,
    `MjSpec.body(name)`.
    """
    import mujoco

    if not hasattr(mujoco.MjSpec, "find_body"):
        mujoco.MjSpec.find_body = _find_body
