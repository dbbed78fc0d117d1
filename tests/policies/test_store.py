"""The policy store without JAX: the atomic write and hashing helpers, the library's life cycle of a
policy (adopt, list, rename, review, delete) and the exchange archive."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from server.files import sha256_bytes, sha256_file, write_atomic
from server.policies import archive
from server.policies.library import PolicyLibrary, UnknownPolicy
from server.policies.manifest import MANIFEST_FILE, PARAMS_FILE, InvalidPolicy, read_checked
from tests.policies.helpers import add_policy, archive_with, stage_policy


def test_write_atomic_replaces_whole_files_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"second"  # a failed write leaves the old file whole
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_write_atomic_mode_is_set_before_the_content(tmp_path: Path) -> None:
    secret = tmp_path / "keys.json"
    write_atomic(secret, b"{}", mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    secret.chmod(0o644)
    write_atomic(secret, b"{}", mode=0o600)  # a rewrite never keeps a widened mode
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_hashes_agree(tmp_path: Path) -> None:
    data = os.urandom(3 * 2**20 + 5)  # more than one read chunk
    (tmp_path / "blob").write_bytes(data)
    assert sha256_file(tmp_path / "blob") == sha256_bytes(data)
    assert sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_library_adopts_lists_renames_and_deletes(tmp_path: Path) -> None:
    library = PolicyLibrary(tmp_path)
    first = add_policy(library, name="first")
    second = add_policy(library, name="second")
    assert [s.name for s in library.list()] == ["second", "first"]  # newest first
    assert {(s.source, s.needs_review) for s in library.list()} == {("trained", False)}
    assert library.rename(first.policy_id, "renamed").name == "renamed"
    assert library.get(first.policy_id).name == "renamed"
    library.delete(second.policy_id)
    assert [s.id for s in library.list()] == [first.policy_id]
    with pytest.raises(UnknownPolicy):
        library.get(second.policy_id)
    for bad in ("../etc", "a" * 32, "staging-0", first.policy_id.upper()):
        with pytest.raises(UnknownPolicy):
            library.folder(bad)
    assert not [p for p in library.root.iterdir() if p.name.startswith(".")]


def test_a_damaged_folder_is_never_adopted(tmp_path: Path) -> None:
    library = PolicyLibrary(tmp_path)
    staging = library.root / "staging"
    stage_policy(staging)
    (staging / PARAMS_FILE).write_bytes(b"param")  # truncated
    with pytest.raises(InvalidPolicy, match=r"params\.msgpack does not match"):
        library.add(staging)
    (staging / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(InvalidPolicy, match="corrupted"):
        library.add(staging)
    assert library.list() == []


def test_an_import_is_marked_imported_and_unreviewed_whatever_its_file_says(tmp_path: Path) -> None:
    library = PolicyLibrary(tmp_path)
    original = add_policy(library)
    exported = library.export(original.policy_id)
    manifest, params = archive.unpack(exported)
    assert manifest == original and params == b"params"
    # A file that claims to be a reviewed, locally trained policy is still an unreviewed import.
    forged = archive_with(manifest, params, source="trained", program_reviewed_at=datetime.now(UTC))
    imported = library.add_imported(*archive.unpack(forged))
    assert imported.policy_id != original.policy_id
    assert (imported.source, imported.program_reviewed_at, imported.needs_review) == ("imported", None, True)
    assert read_checked(library.folder(imported.policy_id)) == imported
    [summary] = [s for s in library.list() if s.id == imported.policy_id]
    assert (summary.source, summary.needs_review) == ("imported", True)

    reviewed = library.mark_reviewed(imported.policy_id)
    assert reviewed.program_reviewed_at is not None and not reviewed.needs_review
    assert library.mark_reviewed(imported.policy_id) == reviewed  # idempotent: the first time stays
    assert not library.rename(imported.policy_id, "kept").needs_review
    on_disk = msgspec.json.decode((library.folder(imported.policy_id) / MANIFEST_FILE).read_bytes())
    assert on_disk["source"] == "imported" and on_disk["program_reviewed_at"] is not None
    with pytest.raises(UnknownPolicy):
        library.mark_reviewed("f" * 32)


def test_old_manifests_read_as_trained(tmp_path: Path) -> None:
    """Manifests saved before `source` existed are this computer's own trained policies."""
    library = PolicyLibrary(tmp_path)
    policy = add_policy(library)
    path = library.folder(policy.policy_id) / MANIFEST_FILE
    raw = msgspec.json.decode(path.read_bytes())
    del raw["source"], raw["program_reviewed_at"]
    path.write_bytes(msgspec.json.encode(raw))
    assert not library.get(policy.policy_id).needs_review


def test_export_refuses_a_damaged_policy(tmp_path: Path) -> None:
    library = PolicyLibrary(tmp_path)
    policy = add_policy(library)
    (library.folder(policy.policy_id) / PARAMS_FILE).write_bytes(b"edited")
    with pytest.raises(InvalidPolicy, match="does not match"):
        library.export(policy.policy_id)
