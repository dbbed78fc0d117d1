"""A saved policy on disk: `params.msgpack` (flax msgpack, never pickle) and `manifest.json`.

The params are brax PPO's `(RunningStatisticsState, {"params": policy}, {"params": value})`. Loading
rebuilds their template from the manifest's NetworkConfig and sizes (`make_ppo_networks` +
`running_statistics.init_state`) and fills it with `flax.serialization.from_bytes`, after checking the
file's sha256 against the manifest. The manifest is written last, so a folder with a manifest is complete.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from server.training.types import PolicyManifest

PARAMS_FILE = "params.msgpack"
MANIFEST_FILE = "manifest.json"
OBS_IS_DICT = "obs_is_dict"  # training_config key: the env's observation is a dict, not one vector


class PolicyFileError(ValueError):
    """A policy folder is missing, corrupted, tampered with, or does not match its manifest."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and `os.replace`, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def params_to_bytes(params: Any) -> bytes:
    import jax
    import numpy as np
    from flax import serialization

    # tree_map rebuilds dicts with sorted keys, as training's params already are and a fresh init's
    # (kernel before bias) are not: the same params then always give the same bytes.
    return bytes(serialization.to_bytes(jax.tree_util.tree_map(np.asarray, params)))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def observation_tree(manifest: PolicyManifest) -> Any:
    """The observation shapes as brax sees them: one tuple for a vector env, else a dict of tuples."""
    sizes = {key: tuple(shape) for key, shape in manifest.observation_size.items()}
    if manifest.training_config.get(OBS_IS_DICT, False):
        return sizes
    return sizes["state"]


def make_networks(manifest: PolicyManifest) -> Any:
    from brax.training.acme import running_statistics
    from brax.training.agents.ppo import networks as ppo_networks

    net = manifest.network
    preprocess = running_statistics.normalize if net.normalize_observations else (lambda x, y: x)
    return ppo_networks.make_ppo_networks(
        observation_tree(manifest),
        manifest.action_size,
        preprocess_observations_fn=preprocess,
        policy_hidden_layer_sizes=tuple(net.policy_hidden_layer_sizes),
        value_hidden_layer_sizes=tuple(net.value_hidden_layer_sizes),
        policy_obs_key=net.policy_obs_key,
        value_obs_key=net.value_obs_key,
    )


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


def save_policy(directory: Path, params: Any, manifest: PolicyManifest) -> PolicyManifest:
    """Write params then manifest (with `params_sha256` filled in); returns the manifest as saved."""
    data = params_to_bytes(params)
    manifest = msgspec.structs.replace(manifest, params_sha256=sha256(data))
    atomic_write(directory / PARAMS_FILE, data)
    atomic_write(directory / MANIFEST_FILE, msgspec.json.encode(manifest))
    return manifest


def load_manifest(directory: Path) -> PolicyManifest:
    path = directory / MANIFEST_FILE
    try:
        return msgspec.json.decode(path.read_bytes(), type=PolicyManifest)
    except FileNotFoundError as exc:
        raise PolicyFileError(f"no policy manifest at {path}") from exc
    except msgspec.DecodeError as exc:
        raise PolicyFileError(f"policy manifest {path} is corrupted: {exc}") from exc


def load_params(directory: Path, manifest: PolicyManifest) -> Any:
    from flax import serialization

    path = directory / PARAMS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise PolicyFileError(f"no policy params at {path}") from exc
    if sha256(data) != manifest.params_sha256:
        raise PolicyFileError(
            f"policy params {path} do not match the manifest's sha256 (corrupted or altered)"
        )
    template = params_template(manifest)
    try:
        return serialization.from_bytes(template, data)
    except Exception as exc:  # flax raises ValueError/KeyError/msgpack errors on a mismatched tree
        raise PolicyFileError(f"policy params {path} do not fit the manifest's network: {exc}") from exc


def load_policy(directory: Path) -> tuple[PolicyManifest, Any]:
    """(manifest, params) of a saved policy; PolicyFileError if anything is missing or does not match."""
    manifest = load_manifest(directory)
    return manifest, load_params(directory, manifest)


def make_inference_fn(directory: Path) -> Callable[[Any], Any]:
    """A jitted deterministic policy: observation (unbatched or batched) -> action in [-1, 1]."""
    import jax
    from brax.training.agents.ppo import networks as ppo_networks

    manifest, params = load_policy(directory)
    policy = ppo_networks.make_inference_fn(make_networks(manifest))(params, deterministic=True)
    key = jax.random.PRNGKey(0)  # unused by a deterministic policy, but part of brax's signature
    return jax.jit(lambda obs: policy(obs, key)[0])  # type: ignore[no-any-return]
