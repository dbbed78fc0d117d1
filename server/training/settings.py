"""Training settings the user picks on the settings page, kept in the `preferences` table (key "training")
beside the UI's own preferences, so they outlive a launch."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.storage.database import Database
from server.training.types import BackendName

_KEY = "training"
MAX_MODAL_CONCURRENCY = 1000


class TrainingSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    backend: BackendName = "local"  # where new jobs run
    modal_max_concurrent: Annotated[int, msgspec.Meta(ge=1, le=MAX_MODAL_CONCURRENCY)] = 100
    modal_timeout_s: Annotated[int, msgspec.Meta(ge=60, le=24 * 3600)] = 4 * 3600  # per attempt
    modal_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2  # each retry resumes from the checkpoint


def read_training_settings(database: Database) -> TrainingSettings:
    rows = database.query("SELECT value FROM preferences WHERE key = ?", (_KEY,))
    if not rows:
        return TrainingSettings()
    try:
        return msgspec.json.decode(rows[0]["value"], type=TrainingSettings)
    except msgspec.ValidationError:
        return TrainingSettings()  # written by another version: defaults rather than a broken page


def write_training_settings(database: Database, settings: TrainingSettings) -> None:
    with database.transaction() as connection:
        connection.execute(
            "INSERT INTO preferences (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (_KEY, msgspec.json.encode(settings).decode()),
        )
