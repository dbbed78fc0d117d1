"""Observation fixes for Playground envs whose own observation misleads a policy; `load_env` applies them,
so training, the success check, playback and the benchmarks all see the same observation.

The reacher (ReacherEasy, ReacherHard) observes its shoulder as the raw hinge angle. Its resets draw that
angle from [-pi, pi], but the shoulder has no limit: an arm that turns past pi shows the policy inputs it
never trained on, and a policy that turned one way there went on turning. Kept reacher policies trained
with the app's CPU defaults spun for whole episodes (the shoulder at -38 rad after 20 s) from 5 of 40
starts and missed those targets (docs/BENCHMARKS.md). The fix gives the angle as its cosine and sine: the
same arm pose is always the same input, whatever the turns before.

Worker processes only (the envs are JAX); jax is imported inside functions.
"""

from __future__ import annotations

from typing import Any


def _reacher_shoulder_as_cos_sin(env: Any) -> None:
    import jax.numpy as jnp

    own = env._get_obs  # reset and step call self._get_obs, so this instance's override takes effect
    shoulder = int(env._shoulder_qposadr)  # the observation starts with qpos

    def get_obs(data: Any, info: Any) -> Any:
        obs = own(data, info)
        angle = obs[shoulder]
        return jnp.concatenate(
            [obs[:shoulder], jnp.stack([jnp.cos(angle), jnp.sin(angle)]), obs[shoulder + 1 :]]
        )

    env._get_obs = get_obs


# Scene id prefix -> the fix applied to its env when loaded.
FIXES = {"Reacher": _reacher_shoulder_as_cos_sin}


def fix_observation(scene_id: str, env: Any) -> None:
    """Applies `scene_id`'s observation fix to `env` in place; scenes without one are left as they are."""
    for prefix, fix in FIXES.items():
        if scene_id.startswith(prefix):
            fix(env)
