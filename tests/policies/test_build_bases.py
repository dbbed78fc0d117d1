"""scripts/build_bases.py without training: a library policy shipped as a base (provenance, the params
copied and matching their hash, an older base replaced), and `--verify` catching damaged, misnamed or
unmarked bases. Training a base through it is what the script's smoke run does (a `--timesteps` run into
a temporary folder); the re-run of a check needs a trained policy, so it is not repeated here."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import msgspec
import pytest

from server.policies.library import PolicyLibrary
from server.policies.manifest import CLIP_FILE, MANIFEST_FILE, PARAMS_FILE, BaseProvenance, read_checked
from tests.policies.helpers import add_policy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def build_bases() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_bases", ROOT / "scripts" / "build_bases.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_bases"] = module
    spec.loader.exec_module(module)
    return module


PROVENANCE = BaseProvenance(
    command="scripts/build_bases.py --scene CartpoleBalance",
    preset="cpu",
    training_config={"preset": "cpu", "num_timesteps": 4_000_000, "seed": 0},
    versions={"jax": "0"},
    check=None,
    training_s=75.0,
    machine="test machine",
    built_at=datetime(2026, 12, 6, tzinfo=UTC),
)


def test_ship_and_verify(build_bases: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = PolicyLibrary(tmp_path / "data", shipped_dir=tmp_path / "bases")
    policy = add_policy(library)
    (library.folder(policy.policy_id) / CLIP_FILE).write_bytes(b"the job's clip")
    out = tmp_path / "bases"
    target = build_bases.ship(library.folder(policy.policy_id), out, PROVENANCE)
    assert (target / CLIP_FILE).read_bytes() == b"the job's clip"
    assert target == out / "CartpoleBalance"
    shipped = read_checked(target)
    assert (shipped.is_base, shipped.provenance, shipped.scene_id) == (True, PROVENANCE, "CartpoleBalance")
    assert shipped.policy_id != policy.policy_id and shipped.program == policy.program
    assert (target / PARAMS_FILE).read_bytes() == (
        library.folder(policy.policy_id) / PARAMS_FILE
    ).read_bytes()
    assert [(s.id, s.base) for s in library.list()] == [
        (policy.policy_id, None),
        (shipped.policy_id, "shipped"),
    ]
    again = build_bases.ship(library.folder(add_policy(library).policy_id), out, PROVENANCE)
    assert again == target and [p.name for p in out.iterdir()] == [
        "CartpoleBalance"
    ]  # replaced, no leftovers
    assert not (target / CLIP_FILE).exists()  # not the old base's clip

    assert build_bases.verify(out, tmp_path / "cache") is True
    text = capsys.readouterr().out
    assert "CartpoleBalance: params hash ok; trained 75 s on test machine" in text
    assert "built with: scripts/build_bases.py --scene CartpoleBalance" in text
    assert f"clip: none (.venv/bin/python -m server.policies.clip {target})" in text

    (target / PARAMS_FILE).write_bytes(b"tampered")
    assert build_bases.verify(out, tmp_path / "cache") is False
    assert "CartpoleBalance: DAMAGED" in capsys.readouterr().out


def test_verify_refuses_misnamed_or_unmarked(
    build_bases: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    library = PolicyLibrary(tmp_path / "data")
    out = tmp_path / "bases"
    target = build_bases.ship(library.folder(add_policy(library).policy_id), out, PROVENANCE)
    target.rename(out / "WalkerWalk")
    assert build_bases.verify(out, tmp_path / "cache") is False
    assert "named WalkerWalk but the base is for CartpoleBalance" in capsys.readouterr().out
    (out / "WalkerWalk").rename(target)
    manifest = read_checked(target)
    (target / MANIFEST_FILE).write_bytes(
        msgspec.json.encode(msgspec.structs.replace(manifest, provenance=None))
    )
    assert build_bases.verify(out, tmp_path / "cache") is False
    assert "without provenance" in capsys.readouterr().out
    assert build_bases.verify(tmp_path / "none", tmp_path / "cache") is True  # nothing shipped: nothing wrong
