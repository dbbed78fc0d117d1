-- Where a training job runs: 'local' (a worker process on this computer's CPU or GPU) or 'modal'
-- (a Modal function call; its id is kept in the job's folder so a restarted server reattaches to it).
ALTER TABLE training_jobs ADD COLUMN backend TEXT NOT NULL DEFAULT 'local' CHECK (backend IN ('local', 'modal'));
-- The list view reads every job; with hundreds queued it must not scan the history blobs' table order.
CREATE INDEX training_jobs_created ON training_jobs (created_at DESC);
