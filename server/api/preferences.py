"""User preferences that outlive a launch (the page origin changes each launch, so not localStorage)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from server.storage.database import Database


class Preferences(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Bounded like every scene id the API takes: the store is not a place for megabytes of text.
    last_scene_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    follow_camera: bool = True


_KEY = "ui"


def read_preferences(database: Database) -> Preferences:
    rows = database.query("SELECT value FROM preferences WHERE key = ?", (_KEY,))
    if not rows:
        return Preferences()
    try:
        return msgspec.json.decode(rows[0]["value"], type=Preferences)
    except msgspec.ValidationError:
        # Written by another version with other fields: start from defaults rather than fail the UI.
        return Preferences()


@get("/api/preferences", sync_to_thread=False)
def get_preferences(database: NamedDependency[Database]) -> Preferences:
    return read_preferences(database)


@put("/api/preferences", sync_to_thread=False)
def put_preferences(database: NamedDependency[Database], data: JSONBody[Preferences]) -> Preferences:
    with database.transaction() as connection:
        connection.execute(
            "INSERT INTO preferences (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (_KEY, msgspec.json.encode(data).decode()),
        )
    return data
