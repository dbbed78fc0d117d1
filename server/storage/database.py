"""The app's SQLite file: opened once per launch, migrated forward with numbered SQL scripts.

Migrations live in `migrations/NNNN_name.sql`; `PRAGMA user_version` records the last one applied, and
each script runs in its own transaction, so an interrupted upgrade leaves the file at a known version.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseTooNewError(RuntimeError):
    """The file was written by a newer Robocoach; opening it with this one could lose data."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every bundled migration, in order; versions must be 1, 2, 3..."""
    found = []
    for entry in resources.files("server.storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    expected = list(range(1, len(found) + 1))
    if [version for version, _, _ in found] != expected:
        raise RuntimeError(f"migrations must be numbered 1..{len(found)} without gaps: {found}")
    return found


class Database:
    """One connection shared by the API process; queries are tiny, so a lock is enough."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    @property
    def version(self) -> int:
        return int(self._connection.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        available = migrations()
        current = self.version
        if current > len(available):
            raise DatabaseTooNewError(
                f"{self.path} is at schema version {current}, but this Robocoach knows only "
                f"{len(available)}; update Robocoach or point --data-dir elsewhere"
            )
        with self._lock:
            for version, _name, sql in available[current:]:
                # executescript would commit on its own; an explicit BEGIN keeps script + version atomic.
                try:
                    self._connection.executescript(
                        f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
                    )
                except sqlite3.Error:
                    if self._connection.in_transaction:
                        self._connection.execute("ROLLBACK")
                    raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._connection.execute("BEGIN")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def query(self, sql: str, parameters: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def close(self) -> None:
        with self._lock:
            self._connection.close()
