"""The env config for playback: the training config with observation noise and random pushes off.

Playground envs name these knobs differently (`noise_config.level`, `obs_noise.level`, a bare
`obs_noise`, `obs_noise.scales.*` with no level, `pert_config.enable`, `push_config.enable`, Op3's and
Barkour's top-level `velocity_kick`), so this walks the config by rule rather than by env name:

- inside a config section whose name contains "noise", its `level` and every float (or list of
  floats) under a `*scales` section become 0; other entries there (PandaRobotiqPushCube's observation
  delays, PandaPickCubeCartesian's brightness range) are not noise magnitudes and are kept;
- a bare float `obs_noise` becomes 0;
- `enable` inside a section named `*pert*`, `*push*` or `*kick*` becomes False;
- a top-level `velocity_kick` range becomes [0, 0].

Also the command a joystick policy follows, read from the same config: `CommandSpec` per component.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from server.commands.types import CommandSpec

Override = tuple[str, Any]
_NOISE_WORD = "noise"
_DISTURBANCE_WORDS = ("pert", "push", "kick")
COMMAND_NAMES_3 = ["forward velocity", "sideways velocity", "turning velocity"]
COMMAND_KEYS_3 = ["forward", "sideways", "turn"]
COMMAND_UNITS_3 = ["m/s", "m/s", "rad/s"]
COMMAND_KEY = "command"  # Playground's joystick envs keep the command in state.info under this key


def _is_section(value: Any) -> bool:
    return hasattr(value, "keys") and hasattr(value, "__getitem__")


def _leaves(config: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key in config:
        value = config[key]
        path = f"{prefix}{key}"
        if _is_section(value):
            yield from _leaves(value, path + ".")
        else:
            yield path, value


def _zero(value: Any) -> Any:
    if isinstance(value, (bool, int)):
        return None
    if isinstance(value, float):
        return 0.0
    if isinstance(value, list | tuple) and value and all(isinstance(v, float) for v in value):
        return [0.0] * len(value)
    return None


def playback_overrides(config: Any) -> dict[str, Any]:
    """Dotted-path overrides (for `registry.load(..., config_overrides=...)`) that switch off noise."""
    overrides: dict[str, Any] = {}
    for path, value in _leaves(config):
        parts = path.split(".")
        sections, leaf = parts[:-1], parts[-1]
        in_noise = any(_NOISE_WORD in part for part in sections)
        magnitude = leaf == "level" or any(part.endswith("scales") for part in sections)
        if (in_noise and magnitude) or path == "obs_noise":
            zero = _zero(value)
            if zero is not None:
                overrides[path] = zero
        elif leaf == "enable" and any(w in s for s in sections for w in _DISTURBANCE_WORDS):
            overrides[path] = False
        elif path == "velocity_kick":
            overrides[path] = [0.0, 0.0]
    return overrides


def apply_overrides(config: Any, overrides: dict[str, Any]) -> Any:
    """A copy of `config` with dotted-path `overrides` set (for tests and for building the env)."""
    updated = config.copy_and_resolve_references()
    for path, value in overrides.items():
        *sections, leaf = path.split(".")
        node = updated
        for part in sections:
            node = node[part]
        node[leaf] = value
    return updated


def command_spec(config: Any, size: int) -> CommandSpec:
    """The range of each command component, from whichever form the env's `command_config` takes."""
    three = size == 3  # Playground's joystick envs: body-frame x and y velocity, then yaw rate
    names = COMMAND_NAMES_3 if three else [f"command {i + 1}" for i in range(size)]
    keys = COMMAND_KEYS_3 if three else [f"command_{i + 1}" for i in range(size)]
    units = COMMAND_UNITS_3 if three else [""] * size
    low, high = [-1.0] * size, [1.0] * size
    section = config.get("command_config") if hasattr(config, "get") else None
    if section is not None:
        present = set(section.keys())
        if {"min", "max"} <= present:
            low, high = [float(v) for v in section["min"]], [float(v) for v in section["max"]]
        elif "a" in present:  # Go1/G1: amplitude a, sampled uniformly in [-a, a]
            high = [float(v) for v in section["a"]]
            low = [-v for v in high]
        elif {"lin_vel_x", "lin_vel_y", "ang_vel_yaw"} <= present:
            ranges = [section["lin_vel_x"], section["lin_vel_y"], section["ang_vel_yaw"]]
            low, high = [float(r[0]) for r in ranges], [float(r[1]) for r in ranges]
    if len(low) != size or len(high) != size:
        low, high = [-1.0] * size, [1.0] * size
    return CommandSpec(names=names, keys=keys, units=units, low=low, high=high)


def env_command_spec(env: Any) -> CommandSpec | None:
    """The command `env`'s policy follows, or None when its state carries none. Traces `env.reset`
    abstractly (shapes only, no compile), which is how the command's size is known for every env."""
    import jax
    import numpy as np

    probe = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
    if COMMAND_KEY not in probe.info:
        return None
    size = int(np.prod(probe.info[COMMAND_KEY].shape))
    return command_spec(env._config, size)
