"""A policy's params with real JAX/flax/brax, no training: the network the manifest describes, save and
load bit-exactly, tampering refused, and a job's checkpoint round trip."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest

from server.policies.checkpoints import Checkpoint, has_checkpoint, read_checkpoint, write_checkpoint
from server.policies.manifest import InvalidPolicy, NetworkConfig, PolicyManifest
from server.training.types import JobSpec
from tests.policies.helpers import HISTORY, PROGRAM
from tests.training.fake_worker import manifest_for

NETWORK = NetworkConfig(
    policy_hidden_layer_sizes=[8, 6],
    value_hidden_layer_sizes=[7],
    normalize_observations=True,
    policy_obs_key="state",
    value_obs_key="state",
)


def manifest(network: NetworkConfig = NETWORK) -> PolicyManifest:
    spec = JobSpec(scene_id="CartpoleBalance", program=PROGRAM)
    return msgspec.structs.replace(manifest_for(spec, b"", HISTORY), network=network)


def kernel_shapes(tree: object) -> list[tuple[int, ...]]:
    import jax

    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return [tuple(leaf.shape) for path, leaf in leaves if "kernel" in jax.tree_util.keystr(path)]


def test_the_network_is_the_manifests() -> None:
    """The one factory builds what the manifest says: 5 observations, hidden sizes, 2 outputs per action
    (mean and scale) for the policy, one value."""
    from server.policies.params import params_template

    _normalizer, policy, value = params_template(manifest())
    assert kernel_shapes(policy) == [(5, 8), (8, 6), (6, 2)]
    assert kernel_shapes(value) == [(5, 7), (7, 1)]


def test_save_and_load_are_bit_exact_and_tampering_is_refused(tmp_path: Path) -> None:
    from server.policies.params import (
        load_policy,
        make_inference_fn,
        params_template,
        params_to_bytes,
        save_policy,
    )

    saved = save_policy(tmp_path / "policy", params_template(manifest()), manifest())
    loaded, params = load_policy(tmp_path / "policy")
    assert loaded == saved and saved.params_sha256
    assert params_to_bytes(params) == (tmp_path / "policy" / "params.msgpack").read_bytes()
    obs = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    act = np.asarray(make_inference_fn(tmp_path / "policy")(obs))
    assert act.shape == (3, 1) and np.all(np.abs(act) <= 1.0)

    params_file = tmp_path / "policy" / "params.msgpack"
    data = bytearray(params_file.read_bytes())
    data[-5] ^= 0xFF
    params_file.write_bytes(bytes(data))
    with pytest.raises(InvalidPolicy, match="sha256"):
        load_policy(tmp_path / "policy")


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    from server.policies.params import params_template, params_to_bytes

    assert not has_checkpoint(tmp_path)
    with pytest.raises(InvalidPolicy, match="missing or unreadable"):
        read_checkpoint(tmp_path, manifest())
    params = params_template(manifest())
    checkpoint = Checkpoint(step=10, total_steps=20, history=HISTORY)
    write_checkpoint(tmp_path, params, checkpoint)
    assert has_checkpoint(tmp_path)
    meta, restored = read_checkpoint(tmp_path, manifest())
    assert meta == checkpoint and params_to_bytes(restored) == params_to_bytes(params)
    smaller = msgspec.structs.replace(NETWORK, policy_hidden_layer_sizes=[3])
    with pytest.raises(InvalidPolicy, match="does not fit the manifest's network"):
        read_checkpoint(tmp_path, manifest(smaller))
