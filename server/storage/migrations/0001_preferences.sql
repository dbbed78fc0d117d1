-- Small user preferences that must survive restarts. The page's origin changes with the port each
-- launch, so the browser's localStorage cannot hold them.
CREATE TABLE preferences (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,           -- JSON
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
