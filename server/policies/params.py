"""A policy's params on disk, and loading a saved policy. Imports JAX, flax and brax: worker processes only.

The params are brax PPO's `(RunningStatisticsState, {"params": policy}, {"params": value})`. Loading
rebuilds their template from the manifest's NetworkConfig and sizes (`networks.make_networks` +
`running_statistics.init_state`) and fills it with `flax.serialization.from_bytes`, after checking the
file's sha256 against the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from server.files import sha256_bytes, write_atomic
from server.policies.manifest import (
    MANIFEST_FILE,
    PARAMS_FILE,
    InvalidPolicy,
    PolicyManifest,
    check_params_hash,
    encode_manifest,
    read_manifest,
)
from server.policies.networks import make_networks, observation_tree


def params_to_bytes(params: Any) -> bytes:
    import jax
    import numpy as np
    from flax import serialization

    # tree_map rebuilds dicts with sorted keys, as training's params already are and a fresh init's
    # (kernel before bias) are not: the same params then always give the same bytes.
    return bytes(serialization.to_bytes(jax.tree_util.tree_map(np.asarray, params)))


def params_template(manifest: PolicyManifest) -> Any:
    """Zero-cost stand-in with the saved params' exact tree structure, shapes and dtypes."""
    import jax
    import jax.numpy as jnp
    from brax.training.acme import running_statistics, specs

    networks = make_networks(manifest)
    key = jax.random.PRNGKey(0)
    obs_specs = jax.tree_util.tree_map(
        lambda shape: specs.Array(shape[-1:], jnp.dtype("float32")),
        observation_tree(manifest),
        is_leaf=lambda x: isinstance(x, tuple),
    )
    normalizer = running_statistics.init_state(obs_specs)
    return (normalizer, networks.policy_network.init(key), networks.value_network.init(key))


def params_from_bytes(manifest: PolicyManifest, data: bytes, what: str) -> Any:
    """Params read into the manifest's network template; InvalidPolicy (naming `what`) if they do not fit:
    the same tree of arrays with the same shapes (flax itself keeps the template's keys and takes whatever
    arrays the file has under them, so a smaller or larger network would load)."""
    from flax import serialization

    template = params_template(manifest)
    try:
        state = serialization.msgpack_restore(data)
        expected = serialization.to_state_dict(template)
        if _shapes(state) != _shapes(expected):
            raise ValueError("its arrays are not the network's (other layers or sizes)")
        return serialization.from_state_dict(template, state)
    except Exception as exc:  # msgpack errors, a mismatched tree
        raise InvalidPolicy(f"{what} does not fit the manifest's network: {exc}") from exc


def _shapes(tree: Any) -> list[tuple[str, tuple[int, ...]]]:
    """Every array of a params tree: its path and shape."""
    import jax
    import numpy as np

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(jax.tree_util.keystr(path), np.shape(leaf)) for path, leaf in leaves]


def save_policy(directory: Path, params: Any, manifest: PolicyManifest) -> PolicyManifest:
    """Write params then manifest (with `params_sha256` filled in); returns the manifest as saved."""
    data = params_to_bytes(params)
    manifest = msgspec.structs.replace(manifest, params_sha256=sha256_bytes(data))
    write_atomic(directory / PARAMS_FILE, data)
    write_atomic(directory / MANIFEST_FILE, encode_manifest(manifest))
    return manifest


def load_params(directory: Path, manifest: PolicyManifest) -> Any:
    path = directory / PARAMS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidPolicy(f"{PARAMS_FILE} is missing in {directory}") from exc
    check_params_hash(sha256_bytes(data), manifest)
    return params_from_bytes(manifest, data, f"policy params {path}")


def load_policy(directory: Path) -> tuple[PolicyManifest, Any]:
    """(manifest, params) of a saved policy; InvalidPolicy if anything is missing or does not match."""
    manifest = read_manifest(directory)
    return manifest, load_params(directory, manifest)


def make_inference_fn(directory: Path) -> Callable[[Any], Any]:
    """A jitted deterministic policy: observation (unbatched or batched) -> action in [-1, 1]."""
    import jax
    from brax.training.agents.ppo import networks as ppo_networks

    manifest, params = load_policy(directory)
    policy = ppo_networks.make_inference_fn(make_networks(manifest))(params, deterministic=True)
    key = jax.random.PRNGKey(0)  # unused by a deterministic policy, but part of brax's signature
    return jax.jit(lambda obs: policy(obs, key)[0])  # type: ignore[no-any-return]
