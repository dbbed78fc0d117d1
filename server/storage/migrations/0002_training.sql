-- Training jobs. The spec is stored with the job so a restarted server can run it again; progress is the
-- latest TrainingProgress and history every evaluation (JSON), small enough to keep in the row.
CREATE TABLE training_jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    spec TEXT NOT NULL,                -- JobSpec as JSON
    device TEXT NOT NULL CHECK (device IN ('cpu', 'gpu')),
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    queue_seq INTEGER NOT NULL,        -- FIFO order among queued jobs; a resumed job goes to the back
    progress TEXT,                     -- TrainingProgress as JSON
    history TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    policy_id TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,  -- worker runs so far
    resume INTEGER NOT NULL DEFAULT 0,   -- the next run continues from the job's checkpoint
    resumable INTEGER NOT NULL DEFAULT 0,
    pid INTEGER                          -- the running worker, so a restarted server can stop an orphan
);
CREATE INDEX training_jobs_queue ON training_jobs (state, queue_seq);
