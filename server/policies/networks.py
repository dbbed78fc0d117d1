"""The PPO networks of a policy: one factory for training (brax's `network_factory`) and for loading a
saved policy, so a policy is always rebuilt with the network it was trained with. Imports brax (JAX)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from server.policies.manifest import OBS_IS_DICT, NetworkConfig, PolicyManifest


def network_factory(network: NetworkConfig, *, frozen_normalizer: Any = None) -> Callable[..., Any]:
    """brax's `make_ppo_networks` with the manifest's sizes and observation keys; training passes it as
    `ppo.train(network_factory=...)`, which supplies the observation size, action size and normaliser.

    With `frozen_normalizer` (a fine-tune: the base's statistics) the networks normalise with those and
    ignore the statistics brax keeps updating, so a policy saved with `frozen_normalizer` as its
    normaliser plays exactly as it trained."""
    from brax.training.acme import running_statistics
    from brax.training.agents.ppo import networks as ppo_networks

    build = functools.partial(
        ppo_networks.make_ppo_networks,
        policy_hidden_layer_sizes=tuple(network.policy_hidden_layer_sizes),
        value_hidden_layer_sizes=tuple(network.value_hidden_layer_sizes),
        policy_obs_key=network.policy_obs_key,
        value_obs_key=network.value_obs_key,
    )
    if frozen_normalizer is None:
        return build

    def frozen(observation: Any, _updated_statistics: Any) -> Any:
        return running_statistics.normalize(observation, frozen_normalizer)

    def build_frozen(*args: Any, preprocess_observations_fn: Any = None, **kwargs: Any) -> Any:
        return build(*args, preprocess_observations_fn=frozen, **kwargs)

    return build_frozen


def observation_tree(manifest: PolicyManifest) -> Any:
    """The observation shapes as brax sees them: one tuple for a vector env, else a dict of tuples."""
    sizes = {key: tuple(shape) for key, shape in manifest.observation_size.items()}
    if manifest.training_config.get(OBS_IS_DICT, False):
        return sizes
    return sizes["state"]


def make_networks(manifest: PolicyManifest) -> Any:
    """The saved policy's networks, built as `ppo.train` built them."""
    from brax.training.acme import running_statistics

    preprocess = running_statistics.normalize if manifest.network.normalize_observations else (lambda x, y: x)
    return network_factory(manifest.network)(
        observation_tree(manifest), manifest.action_size, preprocess_observations_fn=preprocess
    )
