"""Versioned migrations of the SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.storage.database import Database, DatabaseTooNewError, migrations


def test_fresh_file_is_migrated_to_the_latest_version(tmp_path: Path) -> None:
    database = Database(tmp_path / "a.sqlite3")
    assert database.version == len(migrations()) >= 1
    tables = {row["name"] for row in database.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "preferences" in tables
    database.close()


def test_reopening_does_not_reapply_migrations(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    database = Database(path)
    with database.transaction() as connection:
        connection.execute("INSERT INTO preferences (key, value) VALUES ('k', '1')")
    database.close()
    reopened = Database(path)
    assert [row["value"] for row in reopened.query("SELECT value FROM preferences")] == ["1"]
    reopened.close()


def test_a_newer_file_is_refused_not_damaged(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 999")
    connection.close()
    with pytest.raises(DatabaseTooNewError, match="999"):
        Database(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 999


def test_failed_transaction_rolls_back(tmp_path: Path) -> None:
    database = Database(tmp_path / "a.sqlite3")
    with pytest.raises(RuntimeError), database.transaction() as connection:
        connection.execute("INSERT INTO preferences (key, value) VALUES ('k', '1')")
        raise RuntimeError("boom")
    assert database.query("SELECT * FROM preferences") == []
    database.close()
