-- Which checkpoint a finished job kept and its success-check verdict (a TrainingOutcome as JSON), and the
-- reflection round that revised a job whose kept policy failed its check.
ALTER TABLE training_jobs ADD COLUMN outcome TEXT;
ALTER TABLE training_jobs ADD COLUMN next_job_id TEXT;
